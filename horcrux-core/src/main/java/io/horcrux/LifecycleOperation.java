package io.horcrux;

import static io.horcrux.model.VmStatus.CRASHED;
import static io.horcrux.model.VmStatus.PAUSED;
import static io.horcrux.model.VmStatus.RUNNING;
import static io.horcrux.model.VmStatus.STARTING;
import static io.horcrux.model.VmStatus.STOPPED;
import static io.horcrux.model.VmStatus.STOPPING;

import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The lifecycle as data. Each row says which statuses allow the operation, the status a VM
 * passes through while the driver works (none for quick calls), the status it ends in (none
 * when the status stays), the driver call, and, for an operation with a status in between,
 * where a failure of the driver leaves the VM. {@link Lifecycle} runs the rows.
 */
enum LifecycleOperation {
    START(EnumSet.of(STOPPED, CRASHED),
            Step.of(STARTING, "start requested"),
            Step.of(RUNNING, "started"),
            DriverCall.startingProcess((driver, vm) -> driver.start(vm.spec())),
            (vm, driverSees) -> STOPPED),

    STOP(EnumSet.of(RUNNING, PAUSED, CRASHED),
            new Step(STOPPING, "stop requested", "forced stop requested"),
            new Step(STOPPED, "stopped", "forced off"),
            DriverCall.stopping((driver, id, grace) -> driver.stop(id, grace)),
            // The process may still run: back to what the driver sees, and a crashed VM stays crashed.
            (vm, driverSees) -> {
                VmStatus seen = driverSees.get();
                return seen.isActive() ? (vm.status() == CRASHED ? CRASHED : seen) : STOPPED;
            }),

    PAUSE(EnumSet.of(RUNNING),
            null,
            Step.of(PAUSED, "paused"),
            DriverCall.keepingRuntime((driver, id, grace) -> driver.pause(id)),
            null),

    RESUME(EnumSet.of(PAUSED),
            null,
            Step.of(RUNNING, "resumed"),
            DriverCall.keepingRuntime((driver, id, grace) -> driver.resume(id)),
            null),

    RESET(EnumSet.of(RUNNING, PAUSED),
            null,
            null,
            DriverCall.keepingRuntime((driver, id, grace) -> driver.reset(id)),
            null);

    /** A status to record and why; a forced stop (zero grace) gives its own reason. */
    record Step(VmStatus status, String reason, String forcedReason) {
        static Step of(VmStatus status, String reason) {
            return new Step(status, reason, reason);
        }

        String reason(Duration grace) {
            return grace != null && grace.isZero() ? forcedReason : reason;
        }
    }

    /**
     * The driver's part of an operation: a start gives the VM new runtime facts (and it has
     * none while it starts); every other call keeps those it has.
     */
    record DriverCall(boolean newRuntime, Call call) {
        /** What the driver's part gave: the VM's runtime facts, and its own words for the event (or null). */
        record Result(VmRuntime runtime, String reason) {
        }

        @FunctionalInterface
        interface Call {
            Result run(VmDriver driver, Vm vm, Duration grace);
        }

        @FunctionalInterface
        interface Action {
            void run(VmDriver driver, String vmId, Duration grace);
        }

        static DriverCall startingProcess(java.util.function.BiFunction<VmDriver, Vm, VmRuntime> start) {
            return new DriverCall(true, (driver, vm, grace) -> new Result(start.apply(driver, vm), null));
        }

        static DriverCall keepingRuntime(Action action) {
            return new DriverCall(false, (driver, vm, grace) -> {
                action.run(driver, vm.id(), grace);
                return new Result(vm.runtime(), null);
            });
        }

        /** A stop, whose outcome words the event, except a forced stop asked for (zero grace) which keeps its own. */
        static DriverCall stopping(Stop stop) {
            return new DriverCall(false, (driver, vm, grace) -> {
                io.horcrux.spi.StopOutcome outcome = stop.run(driver, vm.id(), grace);
                boolean forcedOnRequest = grace != null && grace.isZero();
                return new Result(vm.runtime(), outcome == null || forcedOnRequest ? null : outcome.reason());
            });
        }

        @FunctionalInterface
        interface Stop {
            io.horcrux.spi.StopOutcome run(VmDriver driver, String vmId, Duration grace);
        }
    }

    /** Where a failed driver call leaves a VM that had moved to the status in between. */
    @FunctionalInterface
    interface AfterFailure {
        VmStatus status(Vm before, Supplier<VmStatus> driverSees);
    }

    private final String label = name().toLowerCase(Locale.ROOT);
    private final Set<VmStatus> allowedFrom;
    private final Step through;
    private final Step to;
    private final DriverCall call;
    private final AfterFailure afterFailure;

    LifecycleOperation(Set<VmStatus> allowedFrom, Step through, Step to, DriverCall call, AfterFailure afterFailure) {
        if ((through == null) != (afterFailure == null)) {
            throw new IllegalArgumentException(name() + ": a status in between needs a status after a failure, and only it");
        }
        this.allowedFrom = allowedFrom;
        this.through = through;
        this.to = to;
        this.call = call;
        this.afterFailure = afterFailure;
    }

    /** The operation's name in errors, logs and metrics: {@code "start"}, {@code "stop"}, ... */
    String label() {
        return label;
    }

    boolean allowedFrom(VmStatus status) {
        return allowedFrom.contains(status);
    }

    /** The status the VM holds while the driver works, or null when it moves only once. */
    Step through() {
        return through;
    }

    /** The status the VM ends in, or null when its status stays and nothing is recorded. */
    Step to() {
        return to;
    }

    DriverCall call() {
        return call;
    }

    VmStatus statusAfterFailure(Vm before, Supplier<VmStatus> driverSees) {
        return afterFailure.status(before, driverSees);
    }
}
