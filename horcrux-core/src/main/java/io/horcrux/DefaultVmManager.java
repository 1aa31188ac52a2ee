package io.horcrux;

import static io.horcrux.LifecycleOperation.PAUSE;
import static io.horcrux.LifecycleOperation.RESET;
import static io.horcrux.LifecycleOperation.RESUME;
import static io.horcrux.LifecycleOperation.START;
import static io.horcrux.LifecycleOperation.STOP;

import io.horcrux.model.BatchResult;
import io.horcrux.model.CacheStats;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.model.VmStatus;
import io.horcrux.model.VmEvent;
import io.horcrux.spi.HostLeases;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one {@link VmManager}: checks its arguments and its own state, times each operation,
 * and hands the work to the part that owns it:
 * <ul>
 *   <li>{@link VmCache}: reads by id, written through after every change;</li>
 *   <li>{@link Provisioning}: create and delete, disks and rows in a crash-safe order;</li>
 *   <li>{@link Lifecycle} over {@link LifecycleOperation}, the table of start, stop, pause,
 *       resume and reset; {@link StatusRecorder} stores, caches and publishes each change;</li>
 *   <li>{@link BatchRunner}: the batch executor;</li>
 *   <li>{@link LiveStats}: the live stats of one VM or of many at once;</li>
 *   <li>{@link Supervisor}: the driver's notices, and reattaching when the manager opens;</li>
 *   <li>{@link OrphanSweep}: what a crash left provisioned, removed when the manager opens;</li>
 *   <li>{@link SnapshotRecovery}: snapshot operations a crash cut off, settled when the manager opens;</li>
 *   <li>{@link InventoryJson}: the inventory's JSON document;</li>
 *   <li>{@link OperationMetrics} and {@link EventDispatcher}: timings and listeners.</li>
 * </ul>
 */
final class DefaultVmManager implements VmManager {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final VmStore store;
    private final VmDriver driver;
    private final KeyedLocks locks = new KeyedLocks();
    private final EventDispatcher events = new EventDispatcher();
    private final OperationMetrics metrics;
    private final boolean stopVmsOnClose;
    private final VmCache cache;
    private final Provisioning provisioning;
    private final Lifecycle lifecycle;
    private final BatchRunner batches;
    private final LiveStats stats;
    private final Supervisor supervisor;
    private final SnapshotOperations snapshots;
    private final CloneOperations clones;
    private final String host;
    private final HostLeases leases; // null on a single-host store
    private final LeaseKeeper lease; // null on a single-host store
    private final StatusRecorder recorder;
    private final java.time.Clock clock;
    private volatile AutoCloseable changes; // other hosts' changes, on a shared store
    /** How often a shared store's changes are read when no notification woke the reader. */
    static final Duration CHANGES_POLL = Duration.ofMillis(500);
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean closed;

    DefaultVmManager(VmManager.Builder b) {
        this.store = b.store;
        this.driver = b.driver;
        this.metrics = b.metrics;
        this.host = b.host;
        this.clock = b.clock;
        this.leases = store.hostLeases().orElse(null);
        // On a shared store a host's VMs run only while it holds its lease: none outlives the manager.
        this.stopVmsOnClose = b.stopVmsOnClose || leases != null;
        this.cache = new VmCache(store, b, leases != null);
        this.recorder = new StatusRecorder(store, cache, events, b.clock);
        this.provisioning = new Provisioning(store, driver, cache, recorder, locks, b.clock, b.maxMemoryMiB, host);
        this.batches = new BatchRunner(b.batchExecutor, b.batchParallelism);
        this.stats = new LiveStats(driver, this::find, batches);
        this.supervisor = new Supervisor(locks, store, driver, recorder, this::find, () -> closed, host);
        this.lease = leases == null ? null : new LeaseKeeper(leases, driver, b, new Takeovers(host, b.clock)::change,
                this::takenOver, supervisor::afterFence);
        supervisor.lease(lease);
        this.lifecycle = new Lifecycle(locks, driver, recorder, this::find, host, lease);
        this.snapshots = new SnapshotOperations(store, driver, lifecycle, recorder, b.clock);
        this.clones = new CloneOperations(store, driver, cache, locks, lifecycle, events, recorder, this::find, b.clock,
                host);
        metrics.bindCache(this::cacheStats);
        driver.setObserver(supervisor);
        try {
            if (lease != null) {
                lease.open();
                changes = leases.followChanges(CHANGES_POLL, this::relay);
            }
            supervisor.reattach();
            new SnapshotRecovery(store, driver, locks, recorder, metrics, host).run();
            new OrphanSweep(store, driver).run();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- reads

    @Override
    public Optional<Vm> find(String id) {
        Objects.requireNonNull(id, "id");
        ensureOpen();
        return cache.find(id);
    }

    @Override
    public Page<Vm> list(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return metrics.timed("list", () -> store.list(query));
    }

    @Override
    public Stream<Vm> stream(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return store.stream(query);
    }

    @Override
    public long count(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return store.count(query);
    }

    @Override
    public CacheStats cacheStats() {
        return cache.stats();
    }

    // ---------------------------------------------------------------- create and delete

    @Override
    public Vm create(VmSpec spec) {
        Objects.requireNonNull(spec, "spec");
        ensureOpen();
        requireLease();
        return metrics.timed("create", () -> provisioning.create(List.of(spec), false).get(0));
    }

    @Override
    public Vm create(VmSpec spec, ProgressListener listener, Cancellation cancellation) {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancellation, "cancellation");
        ensureOpen();
        return metrics.timed("create", () -> provisioning.create(List.of(spec), false, listener, cancellation).get(0));
    }

    @Override
    public List<Vm> createAll(List<VmSpec> specs) {
        Objects.requireNonNull(specs, "specs");
        ensureOpen();
        if (specs.isEmpty()) {
            return List.of();
        }
        requireLease();
        return metrics.timed("createAll", () -> provisioning.create(specs, true));
    }

    @Override
    public void delete(String id) {
        onVm("delete", id, vmId -> lifecycle.withVm(vmId, provisioning::delete));
    }

    // ---------------------------------------------------------------- lifecycle

    @Override
    public Vm start(String id) {
        return run(START, id, null);
    }

    @Override
    public Vm stop(String id) {
        return stop(id, driver.defaultStopGrace());
    }

    @Override
    public Vm stop(String id, Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (grace.isNegative()) {
            throw new IllegalArgumentException("grace must not be negative, was " + grace);
        }
        return run(STOP, id, grace);
    }

    @Override
    public Vm pause(String id) {
        return run(PAUSE, id, null);
    }

    @Override
    public Vm resume(String id) {
        return run(RESUME, id, null);
    }

    @Override
    public Vm reset(String id) {
        return run(RESET, id, null);
    }

    private Vm run(LifecycleOperation operation, String id, Duration grace) {
        return onVm(operation.label(), id, vmId -> lifecycle.run(operation, vmId, grace));
    }

    /** Checks the id and the manager, then times {@code action} on the VM. */
    private <T> T onVm(String operation, String id, Function<String, T> action) {
        Objects.requireNonNull(id, "id");
        ensureOpen();
        return metrics.timed(operation, () -> action.apply(id));
    }

    // ---------------------------------------------------------------- hosts

    @Override
    public String host() {
        return host;
    }

    @Override
    public Vm moveTo(String id, String target) {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(target, "host");
        if (!Vm.isHostName(target)) {
            throw new IllegalArgumentException("host '" + target + "' " + Vm.hostNameRule());
        }
        ensureOpen();
        return metrics.timed("moveTo", () -> lifecycle.withVm(id, vm -> {
            if (vm.owner().equals(target)) {
                return vm;
            }
            if (vm.status() != VmStatus.STOPPED && vm.status() != VmStatus.CRASHED) {
                throw new IllegalVmStateException(vm.id(), vm.status(), "move to host '" + target + "'");
            }
            java.util.List<String> known = knownHosts();
            if (!known.contains(target)) {
                throw new HostNotFoundException(target, known);
            }
            if (lease != null) {
                lease.requireHeld();
            }
            Vm moved = new Vm(vm.spec(), vm.status(), vm.version() + 1, vm.createdAt(), clock.instant(),
                    "moved from host " + vm.owner() + " to host " + target + " by host " + host, null, target);
            store.update(moved, vm.version());
            cache.put(moved);
            events.publish(VmEvent.of(VmEvent.Kind.MOVED, moved, target, moved.statusReason(), moved.updatedAt()));
            log.info("VM {}: moved from host {} to host {}", vm.id(), vm.owner(), target);
            return moved;
        }));
    }

    /** On a shared store: refuses at once, before anything is provisioned, while this host is fenced. */
    private void requireLease() {
        if (lease != null) {
            lease.requireHeld();
        }
    }

    /** The hosts a VM may be moved to: those with a lease on a shared store, else this one. */
    private java.util.List<String> knownHosts() {
        if (leases == null) {
            return java.util.List.of(host);
        }
        return leases.hosts().stream().map(io.horcrux.spi.HostLease::host).toList();
    }

    /**
     * Tells this host's cache and listeners of a change another host stored: the shared store's
     * table of changes, in its order, so per VM in the order of the writes. A create, a delete
     * and a move are told as such; a change of runtime facts alone (same status, same owner) is
     * not an event.
     */
    private void relay(io.horcrux.spi.StoredChange change) {
        if (closed || host.equals(change.writtenBy())) {
            return;
        }
        cache.invalidate(change.vmId());
        VmStatus before = change.previousStatus() == null ? change.status() : change.previousStatus();
        VmStatus after = change.status() == null ? change.previousStatus() : change.status();
        if (before == null || after == null) {
            return;
        }
        VmEvent.Kind kind;
        String subject = null;
        if (change.previousStatus() == null) {
            kind = VmEvent.Kind.CREATED;
        } else if (change.status() == null) {
            kind = VmEvent.Kind.DELETED;
        } else if (change.isMove() && before == after) {
            kind = VmEvent.Kind.MOVED;
            subject = change.owner();
        } else if (before != after) {
            kind = VmEvent.Kind.STATUS_CHANGED;
        } else {
            return;
        }
        events.publish(new VmEvent(change.vmId(), kind, before, after, change.reason(), change.at(), change.version(),
                java.util.Optional.ofNullable(subject)));
    }

    /** Tells the cache and listeners of VMs taken over from dead hosts, and restarts those marked so. */
    private void takenOver(java.util.List<HostLeases.Takeover> taken) {
        for (HostLeases.Takeover t : taken) {
            Vm after = t.after();
            try (KeyedLocks.Held held = locks.lock(after.id())) {
                cache.put(after);
                events.publish(new VmEvent(after.id(), t.before().status(), after.status(), after.statusReason(),
                        after.updatedAt(), after.version()));
            }
            log.warn("VM {}: {}", after.id(), after.statusReason());
            if (t.before().status().isActive() && after.spec().restartOnTakeover()) {
                batches.run(java.util.List.of(after.id()), vmId -> {
                    try {
                        return start(vmId);
                    } catch (RuntimeException e) {
                        log.error("VM {}: could not restart it after taking it over", vmId, e);
                        throw e;
                    }
                });
            }
        }
    }

    // ---------------------------------------------------------------- batches

    @Override
    public BatchResult<Vm> startAll(Collection<String> ids) {
        return batch(ids, this::start);
    }

    @Override
    public BatchResult<Vm> stopAll(Collection<String> ids) {
        return batch(ids, this::stop);
    }

    @Override
    public BatchResult<String> deleteAll(Collection<String> ids) {
        return batch(ids, id -> {
            delete(id);
            return id;
        });
    }

    private <T> BatchResult<T> batch(Collection<String> ids, Function<String, T> operation) {
        Objects.requireNonNull(ids, "ids");
        ensureOpen();
        return batches.run(ids, operation);
    }

    // ---------------------------------------------------------------- live stats

    @Override
    public VmStats stats(String id) {
        return onVm("stats", id, vmId -> {
            Vm vm = get(vmId);
            if (!vm.owner().equals(host)) {
                throw new VmOwnedElsewhereException(vmId, vm.owner(), host, "read the live stats of");
            }
            return stats.of(vmId);
        });
    }

    @Override
    public Map<String, VmStats> statsAll(Collection<String> ids) {
        Objects.requireNonNull(ids, "ids");
        ensureOpen();
        return metrics.timed("statsAll", () -> stats.ofAll(ids));
    }

    // ---------------------------------------------------------------- snapshots

    @Override
    public io.horcrux.model.Snapshot snapshot(String vmId, String name) {
        return snapshot(vmId, name, io.horcrux.model.SnapshotMode.AUTOMATIC);
    }

    @Override
    public io.horcrux.model.Snapshot snapshot(String vmId, String name, io.horcrux.model.SnapshotMode mode) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(mode, "mode");
        return onVm("snapshot", vmId, id -> snapshots.take(id, name, mode));
    }

    @Override
    public List<io.horcrux.model.Snapshot> snapshots(String vmId) {
        return onVm("snapshots", vmId, snapshots::list);
    }

    @Override
    public Vm revert(String vmId, String name) {
        Objects.requireNonNull(name, "name");
        return onVm("revert", vmId, id -> snapshots.revert(id, name));
    }

    @Override
    public void deleteSnapshot(String vmId, String name) {
        Objects.requireNonNull(name, "name");
        onVm("deleteSnapshot", vmId, id -> {
            snapshots.delete(id, name);
            return null;
        });
    }

    // ---------------------------------------------------------------- templates and clones

    @Override
    public Vm makeTemplate(String id) {
        return onVm("makeTemplate", id, clones::makeTemplate);
    }

    @Override
    public Vm clone(String sourceId, String newId, io.horcrux.model.CloneMode mode) {
        return clone(sourceId, newId, null, mode, ProgressListener.NONE, Cancellation.create());
    }

    @Override
    public Vm clone(String sourceId, String newId, String name, io.horcrux.model.CloneMode mode,
                    ProgressListener listener, Cancellation cancellation) {
        Objects.requireNonNull(newId, "newId");
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancellation, "cancellation");
        return onVm("clone", sourceId, id -> clones.clone(id, newId, name, mode, listener, cancellation));
    }

    // ---------------------------------------------------------------- console, events, JSON

    @Override
    public VmConsole console(String id) {
        Objects.requireNonNull(id, "id");
        ensureOpen();
        get(id);
        return new ManagedConsole(id, driver, this::find);
    }

    @Override
    public Subscription subscribe(VmEventListener listener) {
        Objects.requireNonNull(listener, "listener");
        ensureOpen();
        return events.subscribe(listener);
    }

    @Override
    public long exportJson(OutputStream out) {
        Objects.requireNonNull(out, "out");
        ensureOpen();
        return InventoryJson.write(store, out);
    }

    @Override
    public List<Vm> importJson(InputStream in) {
        Objects.requireNonNull(in, "in");
        ensureOpen();
        return createAll(InventoryJson.read(in));
    }

    // ---------------------------------------------------------------- closing

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this VmManager is closed");
        }
    }

    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        if (stopVmsOnClose) {
            stopActiveVms();
        }
        closed = true;
        if (changes != null) {
            try {
                changes.close();
            } catch (Exception e) {
                log.warn("could not stop following other hosts' changes", e);
            }
        }
        if (lease != null) {
            lease.close(true);
        }
        supervisor.close();
        batches.close();
        RuntimeException failure = null;
        for (AutoCloseable resource : List.<AutoCloseable>of(driver, store, events)) {
            try {
                resource.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new HorcruxException("could not close " + resource, e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void stopActiveVms() {
        List<String> active;
        try (Stream<Vm> vms = store.stream(Supervisor.ACTIVE.withStatus(VmStatus.RUNNING, VmStatus.PAUSED))) {
            active = vms.filter(vm -> vm.owner().equals(host)).map(Vm::id).toList();
        }
        for (String id : active) {
            try {
                stop(id, Duration.ZERO);
            } catch (RuntimeException e) {
                log.warn("VM {}: could not stop it while closing", id, e);
            }
        }
    }

    @Override
    public String toString() {
        return "VmManager[host=" + host + ", store=" + store + ", driver=" + driver.name() + (closed ? ", closed" : "") + "]";
    }
}
