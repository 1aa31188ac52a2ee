package io.horcrux.testkit;

import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmConflictException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.spi.VmStore;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;

/**
 * A {@link VmStore} in memory: for tests of code that uses a {@link io.horcrux.VmManager}, and
 * for benchmarks that isolate the manager's own overhead. It keeps the full store contract
 * (optimistic concurrency, all-or-none batches, keyset pages) and passes the same contract
 * tests as the SQLite store; it just forgets everything when the JVM exits.
 *
 * <p>Thread-safe. Reads take no lock; writes are serialised, and a batch becomes visible to
 * point reads item by item (streams are weakly consistent, as with any concurrent map).
 */
public final class InMemoryVmStore implements VmStore {
    private final ConcurrentSkipListMap<String, Vm> vms = new ConcurrentSkipListMap<>();
    private final Object writeLock = new Object();
    /** Each VM's snapshots in the order taken; guarded by {@link #writeLock}. */
    private final java.util.Map<String, List<io.horcrux.model.Snapshot>> snapshots = new java.util.HashMap<>();
    /** Each VM's journalled snapshot operation; guarded by {@link #writeLock}. */
    private final java.util.TreeMap<String, io.horcrux.spi.SnapshotIntent> intents = new java.util.TreeMap<>();
    /** Each linked clone's template, by the clone's id; guarded by {@link #writeLock}. */
    private final java.util.Map<String, String> templates = new java.util.HashMap<>();
    private volatile boolean closed;

    private InMemoryVmStore() {
    }

    /** An empty store. */
    public static InMemoryVmStore create() {
        return new InMemoryVmStore();
    }

    @Override
    public void insert(Vm vm) {
        insertAll(List.of(vm));
    }

    @Override
    public void insertAll(List<Vm> batch) {
        ensureOpen();
        synchronized (writeLock) {
            Set<String> seen = new HashSet<>();
            Set<String> offending = new LinkedHashSet<>();
            for (Vm vm : batch) {
                Objects.requireNonNull(vm, "vm");
                if (!seen.add(vm.id()) || vms.containsKey(vm.id())) {
                    offending.add(vm.id());
                }
            }
            if (!offending.isEmpty()) {
                throw new VmAlreadyExistsException(new ArrayList<>(offending));
            }
            batch.forEach(vm -> vms.put(vm.id(), vm));
        }
    }

    @Override
    public Optional<Vm> find(String id) {
        ensureOpen();
        return Optional.ofNullable(vms.get(id));
    }

    @Override
    public void update(Vm vm, long expectedVersion) {
        ensureOpen();
        synchronized (writeLock) {
            checkVersion(vm.id(), expectedVersion);
            vms.put(vm.id(), vm);
        }
    }

    @Override
    public void delete(String id, long expectedVersion) {
        ensureOpen();
        synchronized (writeLock) {
            checkVersion(id, expectedVersion);
            vms.remove(id);
            snapshots.remove(id);
            intents.remove(id);
            templates.remove(id);
        }
    }

    private void checkVersion(String id, long expectedVersion) {
        Vm current = vms.get(id);
        if (current == null) {
            throw new VmNotFoundException(id);
        }
        if (current.version() != expectedVersion) {
            throw new VmConflictException(id, expectedVersion);
        }
    }

    @Override
    public Page<Vm> list(VmQuery query) {
        ensureOpen();
        int limit = query.limit().orElse(VmQuery.DEFAULT_LIMIT);
        List<Vm> items = new ArrayList<>(Math.min(limit, 1024));
        Iterator<Vm> it = candidates(query).values().iterator();
        while (it.hasNext() && items.size() < limit) {
            Vm vm = it.next();
            if (query.matches(vm)) {
                items.add(vm);
            }
        }
        boolean more = false;
        while (it.hasNext() && !more) {
            more = query.matches(it.next());
        }
        return new Page<>(items, more ? items.get(items.size() - 1).id() : null);
    }

    @Override
    public Stream<Vm> stream(VmQuery query) {
        ensureOpen();
        Stream<Vm> matches = candidates(query).values().stream().filter(query::matches);
        return query.limit().isPresent() ? matches.limit(query.limit().getAsInt()) : matches;
    }

    private ConcurrentNavigableMap<String, Vm> candidates(VmQuery query) {
        return query.after().map(after -> vms.tailMap(after, false)).orElse(vms);
    }

    // ---------------------------------------------------------------- linked clones

    @Override
    public void insertLinkedClone(Vm clone, String templateId) {
        Objects.requireNonNull(clone, "clone");
        Objects.requireNonNull(templateId, "templateId");
        ensureOpen();
        synchronized (writeLock) {
            if (!vms.containsKey(templateId)) {
                throw new VmNotFoundException(templateId);
            }
            insertAll(List.of(clone));
            templates.put(clone.id(), templateId);
        }
    }

    @Override
    public List<String> linkedClones(String templateId) {
        Objects.requireNonNull(templateId, "templateId");
        ensureOpen();
        synchronized (writeLock) {
            return templates.entrySet().stream().filter(e -> e.getValue().equals(templateId)).map(java.util.Map.Entry::getKey)
                    .sorted().toList();
        }
    }

    // ---------------------------------------------------------------- snapshots

    @Override
    public List<io.horcrux.model.Snapshot> snapshots(String vmId) {
        ensureOpen();
        synchronized (writeLock) {
            List<io.horcrux.model.Snapshot> list = new ArrayList<>(snapshots.getOrDefault(vmId, List.of()));
            list.sort(java.util.Comparator.comparing(io.horcrux.model.Snapshot::takenAt)
                    .thenComparing(io.horcrux.model.Snapshot::name));
            return List.copyOf(list);
        }
    }

    @Override
    public void insertSnapshot(String vmId, io.horcrux.model.Snapshot snapshot) {
        ensureOpen();
        Objects.requireNonNull(snapshot, "snapshot");
        synchronized (writeLock) {
            if (!vms.containsKey(vmId)) {
                throw new VmNotFoundException(vmId);
            }
            List<io.horcrux.model.Snapshot> list = snapshots.computeIfAbsent(vmId, k -> new ArrayList<>());
            if (indexOf(list, snapshot.name()) >= 0) {
                throw new io.horcrux.SnapshotAlreadyExistsException(vmId, snapshot.name());
            }
            if (snapshot.parent().isPresent() && indexOf(list, snapshot.parent().get()) < 0) {
                throw new io.horcrux.SnapshotNotFoundException(vmId, snapshot.parent().get());
            }
            list.replaceAll(s -> s.withCurrent(false));
            list.add(snapshot.withCurrent(true));
            intents.remove(vmId);
        }
    }

    @Override
    public void revertSnapshot(String vmId, String name) {
        ensureOpen();
        synchronized (writeLock) {
            List<io.horcrux.model.Snapshot> list = existingSnapshots(vmId, name);
            list.replaceAll(s -> s.withCurrent(s.name().equals(name)));
            intents.remove(vmId);
        }
    }

    @Override
    public void deleteSnapshot(String vmId, String name) {
        ensureOpen();
        synchronized (writeLock) {
            List<io.horcrux.model.Snapshot> list = existingSnapshots(vmId, name);
            io.horcrux.model.Snapshot gone = list.remove(indexOf(list, name));
            list.replaceAll(s -> {
                io.horcrux.model.Snapshot t = s.parent().equals(java.util.Optional.of(name)) ? s.withParent(gone.parent()) : s;
                return gone.current() && gone.parent().equals(java.util.Optional.of(t.name())) ? t.withCurrent(true) : t;
            });
            intents.remove(vmId);
        }
    }

    @Override
    public void recordSnapshotIntent(io.horcrux.spi.SnapshotIntent intent) {
        ensureOpen();
        Objects.requireNonNull(intent, "intent");
        synchronized (writeLock) {
            if (!vms.containsKey(intent.vmId())) {
                throw new VmNotFoundException(intent.vmId());
            }
            intents.put(intent.vmId(), intent);
        }
    }

    @Override
    public List<io.horcrux.spi.SnapshotIntent> snapshotIntents() {
        ensureOpen();
        synchronized (writeLock) {
            return List.copyOf(intents.values());
        }
    }

    @Override
    public void clearSnapshotIntent(String vmId) {
        ensureOpen();
        Objects.requireNonNull(vmId, "vmId");
        synchronized (writeLock) {
            intents.remove(vmId);
        }
    }

    private List<io.horcrux.model.Snapshot> existingSnapshots(String vmId, String name) {
        List<io.horcrux.model.Snapshot> list = snapshots.get(vmId);
        if (list == null || indexOf(list, name) < 0) {
            throw new io.horcrux.SnapshotNotFoundException(vmId, name);
        }
        return list;
    }

    private static int indexOf(List<io.horcrux.model.Snapshot> list, String name) {
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /** Forgets every VM. The store stays open. */
    public void clear() {
        synchronized (writeLock) {
            snapshots.clear();
            intents.clear();
            templates.clear();
            vms.clear();
        }
    }

    @Override
    public void close() {
        closed = true;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the store is closed");
        }
    }

    @Override
    public String toString() {
        return "InMemoryVmStore[" + vms.size() + " VMs]";
    }
}
