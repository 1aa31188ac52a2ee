package io.horcrux;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.horcrux.internal.VmJson;
import io.horcrux.model.BatchResult;
import io.horcrux.model.CacheStats;
import io.horcrux.model.Page;
import io.horcrux.model.Violation;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one {@link VmManager}: state machine, per-VM serialisation, cache, events, metrics. */
final class DefaultVmManager implements VmManager {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);
    private static final VmQuery ACTIVE = VmQuery.all()
            .withStatus(VmStatus.STARTING, VmStatus.RUNNING, VmStatus.PAUSED, VmStatus.STOPPING);
    private static final String EXPORT_FORMAT = "horcrux-inventory";

    private final VmStore store;
    private final VmDriver driver;
    private final Cache<String, Vm> cache; // null when caching is off
    private final KeyedLocks locks = new KeyedLocks();
    private final EventDispatcher events = new EventDispatcher();
    private final OperationMetrics metrics;
    private final Clock clock;
    private final long maxMemoryMiB;
    private final boolean stopVmsOnClose;
    private final Executor batchExecutor;
    private final ExecutorService ownedBatchPool; // null when the caller gave the executor
    private final ExecutorService supervisor;
    private final java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile boolean closed;

    DefaultVmManager(VmManager.Builder b) {
        this.store = b.store;
        this.driver = b.driver;
        this.metrics = b.metrics;
        this.clock = b.clock;
        this.maxMemoryMiB = b.maxMemoryMiB;
        this.stopVmsOnClose = b.stopVmsOnClose;
        this.cache = b.cacheMaximumSize == 0 ? null : buildCache(b);
        if (b.batchExecutor != null) {
            this.batchExecutor = b.batchExecutor;
            this.ownedBatchPool = null;
        } else {
            this.ownedBatchPool = daemonPool("horcrux-batch", b.batchParallelism, b.batchParallelism);
            this.batchExecutor = ownedBatchPool;
        }
        // Notices from the driver wait for the VM's lock, which a long stop may hold; an
        // elastic pool keeps one slow VM from delaying the notices of others.
        this.supervisor = daemonPool("horcrux-supervisor", 0, Integer.MAX_VALUE);
        metrics.bindCache(this::cacheStats);
        driver.setObserver(this::onDriverNotice);
        try {
            reattach();
            removeOrphans();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private static Cache<String, Vm> buildCache(VmManager.Builder b) {
        Caffeine<Object, Object> caffeine = Caffeine.newBuilder().maximumSize(b.cacheMaximumSize);
        if (b.cacheExpireAfterAccess != null) {
            caffeine.expireAfterAccess(b.cacheExpireAfterAccess);
        }
        if (b.recordCacheStats) {
            caffeine.recordStats();
        }
        return caffeine.build();
    }

    private static ExecutorService daemonPool(String name, int core, int max) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(core, max, 30, TimeUnit.SECONDS,
                max == Integer.MAX_VALUE ? new java.util.concurrent.SynchronousQueue<>() : new LinkedBlockingQueue<>(),
                runnable -> {
                    Thread t = new Thread(runnable, name + "-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(core > 0);
        return pool;
    }

    // ---------------------------------------------------------------- reads

    @Override
    public Optional<Vm> find(String id) {
        Objects.requireNonNull(id, "id");
        ensureOpen();
        if (cache == null) {
            return store.find(id);
        }
        return Optional.ofNullable(cache.get(id, key -> store.find(key).orElse(null)));
    }

    @Override
    public Page<Vm> list(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return timed("list", () -> store.list(query));
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
        if (cache == null) {
            return new CacheStats(0, 0, 0);
        }
        var stats = cache.stats();
        return new CacheStats(stats.hitCount(), stats.missCount(), cache.estimatedSize());
    }

    // ---------------------------------------------------------------- create and delete

    @Override
    public Vm create(VmSpec spec) {
        Objects.requireNonNull(spec, "spec");
        ensureOpen();
        return timed("create", () -> createNew(List.of(spec), false).get(0));
    }

    @Override
    public List<Vm> createAll(List<VmSpec> specs) {
        Objects.requireNonNull(specs, "specs");
        ensureOpen();
        if (specs.isEmpty()) {
            return List.of();
        }
        return timed("createAll", () -> createNew(specs, true));
    }

    /**
     * Checks, provisions and stores new VMs under their locks, all or none.
     *
     * @param indexed whether violations name the spec's index, as a batch reports them
     */
    private List<Vm> createNew(List<VmSpec> specs, boolean indexed) {
        checkLimits(specs, indexed);
        specs.forEach(driver::check);
        Instant now = clock.instant();
        List<Vm> vms = specs.stream().map(s -> new Vm(s, VmStatus.STOPPED, 1, now, now, "created", null)).toList();
        List<String> ids = specs.stream().map(VmSpec::id).distinct().sorted().toList();
        try (KeyedLocks.Held held = locks.lockAll(ids)) {
            List<String> taken = takenOrRepeated(specs, ids);
            if (!taken.isEmpty()) {
                throw new VmAlreadyExistsException(taken);
            }
            provisionAfresh(specs);
            try {
                store.insertAll(vms);
            } catch (RuntimeException e) {
                deprovisionAll(specs, e);
                throw e;
            }
            vms.forEach(this::cachePut);
            log.debug("created {} VM(s): {}", vms.size(), ids.size() <= 10 ? ids : ids.subList(0, 10) + "...");
            return vms;
        }
    }

    /** Ids of the batch that are stored already or repeated in it, in the batch's order; one store call. */
    private List<String> takenOrRepeated(List<VmSpec> specs, List<String> ids) {
        Set<String> taken = store.existingIds(ids);
        Set<String> seen = new java.util.HashSet<>();
        LinkedHashSet<String> offending = new LinkedHashSet<>();
        for (VmSpec spec : specs) {
            if (!seen.add(spec.id()) || taken.contains(spec.id())) {
                offending.add(spec.id());
            }
        }
        return new ArrayList<>(offending);
    }

    /**
     * Provisions VMs that have no inventory row (the caller holds their locks and checked),
     * all or none. Disks come before the row, so a crash can leave only files no row names;
     * whatever an earlier, cut-off create left for these ids is removed first.
     */
    private void provisionAfresh(List<VmSpec> specs) {
        List<VmSpec> done = new ArrayList<>(specs.size());
        try {
            for (VmSpec spec : specs) {
                driver.deprovision(spec);
                driver.provision(spec);
                done.add(spec);
            }
        } catch (RuntimeException e) {
            deprovisionAll(done, e);
            throw driverFailure("provision", specs.get(done.size()).id(), e);
        }
    }

    private void deprovisionAll(List<VmSpec> specs, RuntimeException cause) {
        for (VmSpec spec : specs) {
            try {
                driver.deprovision(spec);
            } catch (RuntimeException cleanup) {
                cause.addSuppressed(cleanup);
            }
        }
    }

    private void checkLimits(List<VmSpec> specs, boolean indexed) {
        List<Violation> violations = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            VmSpec spec = specs.get(i);
            if (spec == null) {
                violations.add(new Violation("[" + i + "]", "must not be null"));
            } else if (spec.memoryMiB() > maxMemoryMiB) {
                violations.add(new Violation((indexed ? "[" + i + "]." : "") + "memoryMiB",
                        "must be at most " + maxMemoryMiB + " MiB (this manager's limit), was " + spec.memoryMiB()));
            }
        }
        if (!violations.isEmpty()) {
            throw new InvalidVmSpecException(violations);
        }
    }

    @Override
    public void delete(String id) {
        lifecycle("delete", id, vm -> {
            requireStatus(vm, "delete", VmStatus.STOPPED, VmStatus.CRASHED);
            // The row goes first: a crash in between leaves only files that no row names, which
            // the next create of this id removes, never a VM whose disks are gone.
            store.delete(id, vm.version());
            if (cache != null) {
                cache.invalidate(id);
            }
            try {
                driver.deprovision(vm.spec());
            } catch (RuntimeException e) {
                throw driverFailure("deprovision", id, e);
            }
            log.debug("deleted VM {}", id);
            return vm;
        });
    }

    // ---------------------------------------------------------------- lifecycle

    @Override
    public Vm start(String id) {
        return lifecycle("start", id, vm -> {
            requireStatus(vm, "start", VmStatus.STOPPED, VmStatus.CRASHED);
            Vm starting = moveTo(vm, VmStatus.STARTING, "start requested", null);
            VmRuntime runtime;
            try {
                runtime = driver.start(vm.spec());
            } catch (RuntimeException e) {
                recordAfterFailure(starting, VmStatus.STOPPED, "start failed: " + e.getMessage(), e);
                throw driverFailure("start", id, e);
            }
            return moveTo(starting, VmStatus.RUNNING, "started", runtime);
        });
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
        return lifecycle("stop", id, vm -> {
            requireStatus(vm, "stop", VmStatus.RUNNING, VmStatus.PAUSED, VmStatus.CRASHED);
            Vm stopping = moveTo(vm, VmStatus.STOPPING, grace.isZero() ? "forced stop requested" : "stop requested",
                    vm.runtime());
            try {
                driver.stop(id, grace);
            } catch (RuntimeException e) {
                VmStatus seen = statusOrStopped(id);
                VmStatus back = seen.isActive() ? (vm.status() == VmStatus.CRASHED ? VmStatus.CRASHED : seen)
                        : VmStatus.STOPPED;
                recordAfterFailure(stopping, back, "stop failed: " + e.getMessage(), e);
                throw driverFailure("stop", id, e);
            }
            return moveTo(stopping, VmStatus.STOPPED, grace.isZero() ? "forced off" : "stopped", null);
        });
    }

    @Override
    public Vm pause(String id) {
        return lifecycle("pause", id, vm -> {
            requireStatus(vm, "pause", VmStatus.RUNNING);
            driverCall("pause", id, () -> driver.pause(id));
            return moveTo(vm, VmStatus.PAUSED, "paused", vm.runtime());
        });
    }

    @Override
    public Vm resume(String id) {
        return lifecycle("resume", id, vm -> {
            requireStatus(vm, "resume", VmStatus.PAUSED);
            driverCall("resume", id, () -> driver.resume(id));
            return moveTo(vm, VmStatus.RUNNING, "resumed", vm.runtime());
        });
    }

    @Override
    public Vm reset(String id) {
        return lifecycle("reset", id, vm -> {
            requireStatus(vm, "reset", VmStatus.RUNNING, VmStatus.PAUSED);
            driverCall("reset", id, () -> driver.reset(id));
            return vm;
        });
    }

    /** Runs one lifecycle operation on one VM under its lock, timed. */
    private Vm lifecycle(String operation, String id, Function<Vm, Vm> action) {
        Objects.requireNonNull(id, "id");
        ensureOpen();
        return timed(operation, () -> {
            try (KeyedLocks.Held held = locks.lock(id)) {
                Vm current = currentUnderLock(id).orElseThrow(() -> new VmNotFoundException(id));
                return action.apply(current);
            }
        });
    }

    /** The VM as stored; under the VM's lock the cache is exactly as fresh as the store. */
    private Optional<Vm> currentUnderLock(String id) {
        return find(id);
    }

    private static void requireStatus(Vm vm, String operation, VmStatus... allowed) {
        for (VmStatus status : allowed) {
            if (vm.status() == status) {
                return;
            }
        }
        throw new IllegalVmStateException(vm.id(), vm.status(), operation);
    }

    private Vm moveTo(Vm vm, VmStatus target, String reason, VmRuntime runtime) {
        if (!vm.status().canMoveTo(target)) {
            throw new IllegalVmStateException(vm.id(), vm.status(), target);
        }
        return record(vm, target, reason, runtime);
    }

    /** Stores the change, then caches it, then tells listeners; the caller holds the VM's lock. */
    private Vm record(Vm vm, VmStatus status, String reason, VmRuntime runtime) {
        Vm next = new Vm(vm.spec(), status, vm.version() + 1, vm.createdAt(), clock.instant(), reason,
                status.isActive() ? runtime : null);
        store.update(next, vm.version());
        cachePut(next);
        if (status != vm.status()) {
            events.publish(new VmEvent(vm.id(), vm.status(), status, reason, next.updatedAt(), next.version()));
        }
        log.debug("VM {}: {} -> {} ({})", vm.id(), vm.status(), status, reason);
        return next;
    }

    private void recordAfterFailure(Vm vm, VmStatus status, String reason, RuntimeException failure) {
        try {
            record(vm, status, reason, vm.runtime());
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private VmStatus statusOrStopped(String id) {
        try {
            return driver.status(id);
        } catch (RuntimeException e) {
            log.warn("VM {}: could not read its status from the driver", id, e);
            return VmStatus.STOPPED;
        }
    }

    private void cachePut(Vm vm) {
        if (cache != null) {
            cache.put(vm.id(), vm);
        }
    }

    private static void driverCall(String operation, String id, Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            throw driverFailure(operation, id, e);
        }
    }

    /** Passes Horcrux's own exceptions through and wraps anything else a driver threw. */
    private static HorcruxException driverFailure(String operation, String id, RuntimeException e) {
        if (e instanceof HorcruxException h) {
            return h;
        }
        return new DriverException("could not " + operation + " VM '" + id + "': " + e, e);
    }

    // ---------------------------------------------------------------- supervision

    private void onDriverNotice(String id, VmStatus observed, String reason) {
        if (closed) {
            return;
        }
        try {
            supervisor.execute(() -> reconcile(id, reason));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            log.debug("VM {}: notice '{}' arrived while closing; ignored", id, reason);
        }
    }

    /**
     * Makes the stored status agree with what the driver sees now. The driver is asked again
     * under the VM's lock, so a notice that arrives late or twice changes nothing.
     */
    private void reconcile(String id, String reason) {
        if (closed) {
            return;
        }
        try (KeyedLocks.Held held = locks.lock(id)) {
            Optional<Vm> stored = currentUnderLock(id);
            if (stored.isEmpty()) {
                return;
            }
            Vm vm = stored.get();
            VmStatus seen = driver.status(id);
            if (seen == vm.status() || (!seen.isActive() && !vm.status().isActive())) {
                return;
            }
            log.info("VM {}: {} -> {} noticed by the driver ({})", id, vm.status(), seen, reason);
            record(vm, seen, reason, vm.runtime());
        } catch (RuntimeException e) {
            if (!closed) {
                log.warn("VM {}: could not record a change noticed by the driver ({})", id, reason, e);
            }
        }
    }

    /** Reconnects to the VMs the store says are active and corrects those that are gone. */
    private void reattach() {
        List<Vm> active;
        try (Stream<Vm> vms = store.stream(ACTIVE)) {
            active = vms.toList();
        }
        for (Vm vm : active) {
            try (KeyedLocks.Held held = locks.lock(vm.id())) {
                VmStatus seen;
                try {
                    seen = driver.attach(vm);
                } catch (RuntimeException e) {
                    log.warn("VM {}: could not reattach; treating it as stopped", vm.id(), e);
                    seen = VmStatus.STOPPED;
                }
                if (!seen.isActive()) {
                    seen = VmStatus.STOPPED; // how it ended happened unobserved; a crash is not claimed
                }
                // A VM cut off in STARTING has no runtime facts stored yet: take the driver's.
                VmRuntime runtime = seen.isActive() ? driver.runtime(vm.id()).orElse(vm.runtime()) : null;
                if (seen != vm.status() || !Objects.equals(runtime, vm.runtime())) {
                    String reason = seen.isActive() ? "reattached" : "process gone while no manager watched it";
                    log.info("VM {}: {} -> {} ({})", vm.id(), vm.status(), seen, reason);
                    record(vm, seen, reason, runtime);
                } else {
                    log.info("VM {}: reattached, {}", vm.id(), seen);
                }
            }
        }
    }

    /**
     * Removes what the driver provisioned for VMs the store does not know: a create cut off by a
     * crash after its disks were made and before its row, or a delete cut off after its row was
     * removed and before its disks were. A failure is logged and the manager opens anyway.
     */
    private void removeOrphans() {
        Set<String> provisioned;
        try {
            provisioned = driver.provisionedIds();
        } catch (RuntimeException e) {
            log.warn("could not list what the {} driver has provisioned; orphans are left alone", driver.name(), e);
            return;
        }
        Set<String> known = provisioned.isEmpty() ? Set.of() : store.existingIds(provisioned);
        for (String id : provisioned) {
            if (known.contains(id)) {
                continue;
            }
            try {
                driver.removeOrphan(id);
                log.info("VM {}: removed what the driver had provisioned for it; the inventory does not know it"
                        + " (a create or delete cut off by a crash)", id);
            } catch (RuntimeException e) {
                log.warn("VM {}: the inventory does not know it, and what the driver provisioned for it could not be removed",
                        id, e);
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
        LinkedHashSet<String> unique = new LinkedHashSet<>();
        for (String id : ids) {
            unique.add(Objects.requireNonNull(id, "ids must not contain null"));
        }
        Map<String, CompletableFuture<T>> futures = new LinkedHashMap<>();
        for (String id : unique) {
            CompletableFuture<T> future;
            try {
                future = CompletableFuture.supplyAsync(() -> operation.apply(id), batchExecutor);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                future = CompletableFuture.failedFuture(e);
            }
            futures.put(id, future);
        }
        List<T> succeeded = new ArrayList<>();
        Map<String, RuntimeException> failed = new LinkedHashMap<>();
        futures.forEach((id, future) -> {
            try {
                succeeded.add(future.join());
            } catch (CompletionException | java.util.concurrent.CancellationException e) {
                Throwable cause = e.getCause() == null ? e : e.getCause();
                failed.put(id, cause instanceof RuntimeException r ? r : new HorcruxException(cause.toString(), cause));
            }
        });
        return new BatchResult<>(succeeded, failed);
    }

    // ---------------------------------------------------------------- events, JSON

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
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator(out);
             Stream<Vm> vms = store.stream(VmQuery.all())) {
            gen.configure(JsonGenerator.Feature.AUTO_CLOSE_TARGET, false);
            gen.writeStartObject();
            gen.writeStringField("format", EXPORT_FORMAT);
            gen.writeNumberField("formatVersion", 1);
            gen.writeArrayFieldStart("vms");
            long count = 0;
            for (Vm vm : (Iterable<Vm>) vms::iterator) {
                VmJson.writeVm(gen, vm);
                count++;
            }
            gen.writeEndArray();
            gen.writeEndObject();
            return count;
        } catch (IOException e) {
            throw new InventoryJsonException("could not write the inventory: " + e.getMessage(), e);
        }
    }

    @Override
    public List<Vm> importJson(InputStream in) {
        Objects.requireNonNull(in, "in");
        ensureOpen();
        List<VmSpec> specs = new ArrayList<>();
        try (JsonParser p = VmJson.FACTORY.createParser(in)) {
            p.configure(JsonParser.Feature.AUTO_CLOSE_SOURCE, false);
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("expected a JSON object");
            }
            boolean formatSeen = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "format" -> {
                        if (!EXPORT_FORMAT.equals(p.getValueAsString())) {
                            throw new IOException("format is '" + p.getValueAsString() + "', expected " + EXPORT_FORMAT);
                        }
                        formatSeen = true;
                    }
                    case "vms" -> {
                        if (p.currentToken() != JsonToken.START_ARRAY) {
                            throw new IOException("vms must be an array");
                        }
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            specs.add(VmJson.readVm(p).spec());
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (!formatSeen) {
                throw new IOException("no \"format\": \"" + EXPORT_FORMAT + "\" field");
            }
        } catch (IOException e) {
            throw new InventoryJsonException("not a Horcrux inventory document: " + e.getMessage(), e);
        }
        return createAll(specs);
    }

    // ---------------------------------------------------------------- plumbing

    private <T> T timed(String operation, Supplier<T> action) {
        long start = System.nanoTime();
        String outcome = "success";
        try {
            return action.get();
        } catch (RuntimeException e) {
            outcome = e.getClass().getSimpleName();
            throw e;
        } finally {
            metrics.record(operation, outcome, System.nanoTime() - start);
        }
    }

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
        supervisor.shutdownNow();
        if (ownedBatchPool != null) {
            ownedBatchPool.shutdownNow();
        }
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
        try (Stream<Vm> vms = store.stream(ACTIVE.withStatus(VmStatus.RUNNING, VmStatus.PAUSED))) {
            active = vms.map(Vm::id).toList();
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
        return "VmManager[store=" + store + ", driver=" + driver.name() + (closed ? ", closed" : "") + "]";
    }
}
