package io.horcrux;

import io.horcrux.LifecycleOperation.Step;
import io.horcrux.model.Vm;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs operations on one VM under its lock: the rows of {@link LifecycleOperation}, and any
 * other action that needs the VM as stored (a delete). Each row runs the same way: check the
 * status, move to the status in between, call the driver, record the end, or on a failure
 * record where the VM was left and throw.
 */
final class Lifecycle {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final KeyedLocks locks;
    private final VmDriver driver;
    private final StatusRecorder recorder;
    private final Function<String, Optional<Vm>> current;
    private final String host;
    private final LeaseKeeper lease; // null on a single-host store

    /**
     * @param current the VM as stored, read under its lock
     * @param lease   the host's lease on a shared store, or null
     */
    Lifecycle(KeyedLocks locks, VmDriver driver, StatusRecorder recorder, Function<String, Optional<Vm>> current,
              String host, LeaseKeeper lease) {
        this.host = host;
        this.lease = lease;
        this.locks = locks;
        this.driver = driver;
        this.recorder = recorder;
        this.current = current;
    }

    /** Runs {@code action} on the VM as stored, under its lock. */
    <T> T withVm(String id, Function<Vm, T> action) {
        try (KeyedLocks.Held held = locks.lock(id)) {
            Vm vm = current.apply(id).orElseThrow(() -> new VmNotFoundException(id));
            return action.apply(vm);
        }
    }

    /** Runs one row of the table on a VM; {@code grace} is the stop's, null for the others. */
    Vm run(LifecycleOperation operation, String id, Duration grace) {
        return withVm(id, vm -> run(operation, vm, grace));
    }

    /** Runs one row of the table on a VM whose lock the caller holds, as stored. */
    Vm runHeld(LifecycleOperation operation, Vm vm, Duration grace) {
        return run(operation, vm, grace);
    }

    /**
     * Refuses an operation on a VM another host owns, and any while this host's lease on a shared
     * store is not held: only the owner may change a VM's images or process.
     */
    void requireOwned(Vm vm, String operation) {
        if (!vm.owner().equals(host)) {
            throw new VmOwnedElsewhereException(vm.id(), vm.owner(), host, operation);
        }
        if (lease != null) {
            lease.requireHeld();
        }
    }

    private Vm run(LifecycleOperation operation, Vm vm, Duration grace) {
        requireOwned(vm, operation.label());
        if (vm.status() == VmStatus.TEMPLATE) {
            throw new IllegalVmStateException(vm.id(), vm.status(), operation.label(),
                    "a template never starts or changes; clone it (VmManager.clone) and " + operation.label() + " the clone");
        }
        if (!operation.allowedFrom(vm.status())) {
            throw new IllegalVmStateException(vm.id(), vm.status(), operation.label());
        }
        if (operation == LifecycleOperation.START) {
            provisionHere(vm);
        }
        LifecycleOperation.DriverCall call = operation.call();
        Step through = operation.through();
        Vm before = through == null ? vm
                : recorder.moveTo(vm, through.status(), through.reason(grace), call.newRuntime() ? null : vm.runtime());
        LifecycleOperation.DriverCall.Result result;
        try {
            result = lease != null && call.newRuntime()
                    ? lease.whileHolding(vm.id(), () -> call.call().run(driver, before, grace))
                    : call.call().run(driver, before, grace);
        } catch (RuntimeException e) {
            if (through != null) {
                VmStatus back = operation.statusAfterFailure(vm, () -> statusOrStopped(vm.id()));
                recorder.recordAfterFailure(before, back, operation.label() + " failed: " + e.getMessage(), e);
            }
            throw driverFailure(operation.label(), vm.id(), e);
        }
        Step to = operation.to();
        if (to == null) {
            return before;
        }
        String reason = result.reason() != null ? result.reason() : to.reason(grace);
        return recorder.moveTo(before, to.status(), reason, result.runtime());
    }

    /**
     * A VM that came from another host (moved, or taken over) may not be provisioned here: one
     * without disks is provisioned now; one with disks is refused, since moving copies no disks.
     */
    private void provisionHere(Vm vm) {
        boolean here;
        try {
            here = driver.isProvisioned(vm.id());
        } catch (RuntimeException e) {
            throw driverFailure("start", vm.id(), e);
        }
        if (here) {
            return;
        }
        if (!vm.spec().disks().isEmpty()) {
            throw new DriverException("cannot start VM '" + vm.id() + "' on host " + host + ": its disks are not here"
                    + " (it was provisioned on another host; moving a VM copies no disks). Nothing was changed");
        }
        try {
            driver.provision(vm.spec());
        } catch (RuntimeException e) {
            throw driverFailure("provision", vm.id(), e);
        }
        log.info("VM {}: provisioned on host {}, where it came without disks", vm.id(), host);
    }

    private VmStatus statusOrStopped(String id) {
        try {
            return driver.status(id);
        } catch (RuntimeException e) {
            log.warn("VM {}: could not read its status from the driver", id, e);
            return VmStatus.STOPPED;
        }
    }

    /** Passes Horcrux's own exceptions through and wraps anything else a driver threw. */
    static HorcruxException driverFailure(String operation, String id, RuntimeException e) {
        if (e instanceof HorcruxException h) {
            return h;
        }
        return new DriverException("could not " + operation + " VM '" + id + "': " + e, e);
    }
}
