package io.horcrux;

import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.DriverObserver;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the stored statuses true to the driver: records the changes the driver notices behind
 * the manager's back, and, when the manager opens, reattaches to the VMs the store says are
 * active and corrects those that are gone.
 */
final class Supervisor implements DriverObserver, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);
    static final VmQuery ACTIVE = VmQuery.all()
            .withStatus(VmStatus.STARTING, VmStatus.RUNNING, VmStatus.PAUSED, VmStatus.STOPPING);

    private final KeyedLocks locks;
    private final VmStore store;
    private final VmDriver driver;
    private final StatusRecorder recorder;
    private final Function<String, Optional<Vm>> current;
    private final BooleanSupplier closed;
    private final String host;
    private volatile LeaseKeeper lease; // null on a single-host store
    /**
     * The notices, handled by a small fixed set of threads whatever the number of VMs. A
     * notice needs its VM's lock, which a long stop may hold: it never waits for it on a pool
     * thread, but is picked up again by whoever releases the lock (see {@link #drain}), so one
     * slow VM delays only its own notices.
     */
    private final ExecutorService pool = DaemonPool.create("horcrux-supervisor", THREADS);
    /** Each VM's notices not yet handled, in order; a VM is here while a drain of it is due. */
    private final ConcurrentHashMap<String, Notices> pending = new ConcurrentHashMap<>();

    /** How many threads serve the notices of every VM. */
    static final int THREADS = 2;
    /** A drain handles at most this many notices of its VM, then lets other VMs' run first. */
    static final int BATCH = 16;
    /** Guest resets queued for one VM beyond which further ones are told as a count. */
    static final int MAX_QUEUED_RESETS = 64;

    /**
     * @param current the VM as stored, read under its lock
     * @param closed  whether the manager is closed; notices are then ignored
     */
    Supervisor(KeyedLocks locks, VmStore store, VmDriver driver, StatusRecorder recorder,
               Function<String, Optional<Vm>> current, BooleanSupplier closed, String host) {
        this.host = host;
        this.locks = locks;
        this.store = store;
        this.driver = driver;
        this.recorder = recorder;
        this.current = current;
        this.closed = closed;
    }

    /** The host's lease on a shared store, told of the VMs this host reattached to. */
    void lease(LeaseKeeper lease) {
        this.lease = lease;
    }

    /**
     * The driver's notice of a change: queued for the VM. A change already queued and not yet
     * handled absorbs it (handling asks the driver again, so one pass sees both).
     */
    @Override
    public void statusChanged(String id, VmStatus observed, String reason) {
        enqueue(id, n -> n.change(reason));
    }

    /** The driver's notice of a guest that reset itself: listeners hear of it, the status stays. */
    @Override
    public void guestReset(String id, String reason) {
        enqueue(id, n -> n.reset(reason));
    }

    private void enqueue(String id, java.util.function.Consumer<Notices> add) {
        if (closed.getAsBoolean()) {
            return;
        }
        boolean[] schedule = new boolean[1];
        pending.compute(id, (k, n) -> {
            Notices notices = n == null ? new Notices() : n;
            add.accept(notices);
            schedule[0] = n == null;
            return notices;
        });
        if (schedule[0]) {
            submit(id);
        }
    }

    private void submit(String id) {
        try {
            pool.execute(() -> drain(id));
        } catch (RejectedExecutionException e) {
            pending.remove(id);
            log.debug("VM {}: notices arrived while closing; ignored", id);
        }
    }

    /**
     * Handles the VM's queued notices under its lock. When another thread holds the lock (a
     * stop sequence, a start), the drain ends at once and is submitted again by that thread's
     * release; after {@value #BATCH} notices it goes to the back of the pool's queue.
     */
    private void drain(String id) {
        if (closed.getAsBoolean()) {
            pending.remove(id);
            return;
        }
        KeyedLocks.Held held = locks.tryLockOrWhenFree(id, () -> submit(id));
        if (held == null) {
            return; // still pending: the holder's release submits it again
        }
        try (held) {
            for (int i = 0; i < BATCH; i++) {
                Notice next = take(id);
                if (next == null) {
                    return;
                }
                handle(id, next);
            }
        }
        submit(id);
    }

    /** The VM's next notice, or null (and the VM no longer pending) when there is none. */
    private Notice take(String id) {
        Notice[] next = new Notice[1];
        pending.computeIfPresent(id, (k, n) -> {
            next[0] = n.poll();
            return next[0] == null ? null : n;
        });
        return next[0];
    }

    private void handle(String id, Notice notice) {
        if (closed.getAsBoolean()) {
            return;
        }
        try {
            if (notice.change()) {
                reconcile(id, notice.reason());
            } else {
                current.apply(id).filter(vm -> vm.status() == VmStatus.RUNNING)
                        .ifPresent(vm -> recorder.announce(vm, notice.reason()));
            }
        } catch (RuntimeException e) {
            if (!closed.getAsBoolean()) {
                log.warn("VM {}: could not record a change noticed by the driver ({})", id, notice.reason(), e);
            }
        }
    }

    /**
     * Makes the stored status agree with what the driver sees now; the caller holds the VM's
     * lock. The driver is asked again, so a notice that arrives late or twice changes nothing.
     */
    private void reconcile(String id, String reason) {
        Optional<Vm> stored = current.apply(id);
        if (stored.isEmpty()) {
            return;
        }
        Vm vm = stored.get();
        if (!vm.owner().equals(host)) {
            return; // moved or taken over: its new owner supervises it
        }
        VmStatus seen = driver.status(id);
        if (seen == vm.status() || (!seen.isActive() && !vm.status().isActive())) {
            return;
        }
        log.info("VM {}: {} -> {} noticed by the driver ({})", id, vm.status(), seen, reason);
        recorder.record(vm, seen, reason, vm.runtime());
    }

    /**
     * One notice: a change to reconcile, or a guest reset to tell ({@code more}: resets that
     * came on top of a full queue, told with it). Changed only under {@link #pending}'s compute.
     */
    private static final class Notice {
        final boolean change;
        String reason;
        int more;

        Notice(boolean change, String reason) {
            this.change = change;
            this.reason = reason;
        }

        boolean change() {
            return change;
        }

        String reason() {
            return more == 0 ? reason : reason + " (and " + more + " more resets)";
        }
    }

    /**
     * A VM's queued notices, in order (guarded by {@link #pending}'s compute on the VM's id):
     * at most one change, and at most {@value #MAX_QUEUED_RESETS} resets.
     */
    private static final class Notices {
        private final ArrayDeque<Notice> queue = new ArrayDeque<>(2);
        private Notice change; // the change queued and not yet handled
        private Notice lastReset;
        private int resets;

        void change(String reason) {
            if (change != null) {
                change.reason = reason; // the latest reason says what the driver sees now
            } else {
                change = new Notice(true, reason);
                queue.add(change);
            }
        }

        void reset(String reason) {
            if (resets >= MAX_QUEUED_RESETS) {
                lastReset.more++; // a guest resetting in a loop: counted, not queued without end
                return;
            }
            resets++;
            lastReset = new Notice(false, reason);
            queue.add(lastReset);
        }

        Notice poll() {
            Notice next = queue.poll();
            if (next == change) {
                change = null;
            } else if (next != null) {
                resets--;
                if (next == lastReset) {
                    lastReset = null;
                }
            }
            return next;
        }
    }

    /** Reconnects to the VMs the store says are active and corrects those that are gone. */
    void reattach() {
        List<Vm> active;
        try (Stream<Vm> vms = store.stream(ACTIVE)) {
            active = vms.filter(vm -> vm.owner().equals(host)).toList();
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
                if (seen.isActive() && lease != null) {
                    lease.running(vm.id());
                }
                if (seen != vm.status() || !Objects.equals(runtime, vm.runtime())) {
                    String reason = seen.isActive() ? "reattached" : "process gone while no manager watched it";
                    log.info("VM {}: {} -> {} ({})", vm.id(), vm.status(), seen, reason);
                    recorder.record(vm, seen, reason, runtime);
                } else {
                    log.info("VM {}: reattached, {}", vm.id(), seen);
                }
            }
        }
    }

    /**
     * After the host fenced itself and took a new lease: records as stopped this host's VMs that
     * the store says are active and whose processes the fence stopped.
     */
    void afterFence() {
        List<Vm> active;
        try (Stream<Vm> vms = store.stream(ACTIVE)) {
            active = vms.filter(vm -> vm.owner().equals(host)).toList();
        }
        for (Vm vm : active) {
            try (KeyedLocks.Held held = locks.lock(vm.id())) {
                Optional<Vm> now = current.apply(vm.id());
                if (now.isPresent() && now.get().owner().equals(host) && now.get().status().isActive()
                        && !driver.status(vm.id()).isActive()) {
                    recorder.record(now.get(), VmStatus.STOPPED, "force-stopped: host " + host
                            + " fenced itself when it could not renew its lease", null);
                }
            } catch (RuntimeException e) {
                log.warn("VM {}: could not record its stop after the host fenced itself", vm.id(), e);
            }
        }
    }

    /** Stops the supervisor threads; notices in flight are dropped. */
    @Override
    public void close() {
        pool.shutdownNow();
        pending.clear();
    }
}
