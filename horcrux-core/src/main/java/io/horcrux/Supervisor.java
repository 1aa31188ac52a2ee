package io.horcrux;

import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.DriverObserver;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
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
    // Notices wait for the VM's lock, which a long stop may hold; an elastic pool keeps one
    // slow VM from delaying the notices of others.
    private final ExecutorService pool = DaemonPool.create("horcrux-supervisor", 0, Integer.MAX_VALUE);

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

    /** The driver's notice of a change: handed to a supervisor thread. */
    @Override
    public void statusChanged(String id, VmStatus observed, String reason) {
        if (closed.getAsBoolean()) {
            return;
        }
        try {
            pool.execute(() -> reconcile(id, reason));
        } catch (RejectedExecutionException e) {
            log.debug("VM {}: notice '{}' arrived while closing; ignored", id, reason);
        }
    }

    /** The driver's notice of a guest that reset itself: listeners hear of it, the status stays. */
    @Override
    public void guestReset(String id, String reason) {
        if (closed.getAsBoolean()) {
            return;
        }
        try {
            pool.execute(() -> {
                try (KeyedLocks.Held held = locks.lock(id)) {
                    current.apply(id).filter(vm -> vm.status() == VmStatus.RUNNING)
                            .ifPresent(vm -> recorder.announce(vm, reason));
                }
            });
        } catch (RejectedExecutionException e) {
            log.debug("VM {}: reset '{}' arrived while closing; ignored", id, reason);
        }
    }

    /**
     * Makes the stored status agree with what the driver sees now. The driver is asked again
     * under the VM's lock, so a notice that arrives late or twice changes nothing.
     */
    private void reconcile(String id, String reason) {
        if (closed.getAsBoolean()) {
            return;
        }
        try (KeyedLocks.Held held = locks.lock(id)) {
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
        } catch (RuntimeException e) {
            if (!closed.getAsBoolean()) {
                log.warn("VM {}: could not record a change noticed by the driver ({})", id, reason, e);
            }
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
    }
}
