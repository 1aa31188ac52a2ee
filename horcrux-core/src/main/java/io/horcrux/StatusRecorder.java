package io.horcrux;

import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmStore;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records a VM's new status: in the store first (a compare-and-set on the version), then in
 * the cache, then for listeners. Every caller holds the VM's lock, so each VM's events are
 * published in the order they happened.
 */
final class StatusRecorder {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final VmStore store;
    private final VmCache cache;
    private final EventDispatcher events;
    private final Clock clock;

    StatusRecorder(VmStore store, VmCache cache, EventDispatcher events, Clock clock) {
        this.store = store;
        this.cache = cache;
        this.events = events;
        this.clock = clock;
    }

    /** Records a move the state machine allows, and refuses any other. */
    Vm moveTo(Vm vm, VmStatus target, String reason, VmRuntime runtime) {
        if (!vm.status().canMoveTo(target)) {
            throw new IllegalVmStateException(vm.id(), vm.status(), target);
        }
        return record(vm, target, reason, runtime);
    }

    /** Records what the driver says is so; the runtime facts are kept only for an active status. */
    Vm record(Vm vm, VmStatus status, String reason, VmRuntime runtime) {
        Vm next = new Vm(vm.spec(), status, vm.version() + 1, vm.createdAt(), clock.instant(), reason,
                status.isActive() ? runtime : null, vm.owner());
        store.update(next, vm.version());
        cache.put(next);
        if (status != vm.status()) {
            events.publish(new VmEvent(vm.id(), vm.status(), status, reason, next.updatedAt(), next.version()));
        }
        log.debug("VM {}: {} -> {} ({})", vm.id(), vm.status(), status, reason);
        return next;
    }

    /** Tells listeners of something that happened to the VM without changing its status (a reboot). */
    void announce(Vm vm, String reason) {
        events.publish(new VmEvent(vm.id(), vm.status(), vm.status(), reason, clock.instant(), vm.version()));
        log.info("VM {}: {}", vm.id(), reason);
    }

    /**
     * Tells listeners of an event of {@code kind} that leaves the VM's status as it is (a
     * create, a delete, a move, a snapshot).
     *
     * @param subject the snapshot, host or VM the event is about, or null when the kind has none
     */
    void announce(VmEvent.Kind kind, Vm vm, String subject, String reason) {
        events.publish(VmEvent.of(kind, vm, subject, reason, clock.instant()));
    }

    /** Records where a failed operation left the VM; a failure to record joins {@code failure}. */
    void recordAfterFailure(Vm vm, VmStatus status, String reason, RuntimeException failure) {
        try {
            record(vm, status, reason, vm.runtime());
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }
}
