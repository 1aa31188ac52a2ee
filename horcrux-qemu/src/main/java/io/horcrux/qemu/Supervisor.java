package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.DriverObserver;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the driver's QEMU processes through their monitors and tells the
 * {@link DriverObserver} what happened that the driver did not do: an exit (STOPPED when the
 * guest powered off or QEMU quit on a command, CRASHED otherwise), a pause or resume from
 * another monitor, a guest's own reboot, a guest panic, a guest the hypervisor cannot run. Events of one VM are
 * handled in order on the shared pool, never on the monitor loop's thread. An exit is noticed
 * without a thread per VM: by the monitor's end of file, then the {@link ProcessWatch}'s batched
 * check that the process is gone; and by its periodic check of every running process.
 */
final class Supervisor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Supervisor.class);

    private final ProcessTable table;
    private final StopSequence stops;
    private final ExecutorService pool;
    private final String hypervisorFailure;
    private final ProcessWatch watch;
    /** The timer this supervisor made for itself and ends on close; null when it was given one. */
    private final ScheduledExecutorService ownTimer;
    private volatile DriverObserver observer = (id, status, reason) -> { };
    private volatile boolean closed;

    /**
     * @param hypervisorFailure the reason given for a guest the hypervisor stopped with an
     *                          internal error: it names the accelerator and CPU model and the fix
     */
    Supervisor(ProcessTable table, StopSequence stops, ExecutorService pool, String hypervisorFailure) {
        this(table, stops, pool, hypervisorFailure, null);
    }

    /**
     * As {@link #Supervisor(ProcessTable, StopSequence, ExecutorService, String)}, checking
     * processes on {@code timer} (shared; not shut down here), or on a timer of its own when null.
     */
    Supervisor(ProcessTable table, StopSequence stops, ExecutorService pool, String hypervisorFailure,
               ScheduledExecutorService timer) {
        this.table = table;
        this.stops = stops;
        this.pool = pool;
        this.hypervisorFailure = hypervisorFailure;
        this.ownTimer = timer == null ? Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "horcrux-qemu-supervisor-timer");
            t.setDaemon(true);
            return t;
        }) : null;
        this.watch = new ProcessWatch(timer == null ? ownTimer : timer, pool);
    }

    /**
     * Checks every running process each {@code period}: one found gone while its monitor is still
     * open (nothing closed it) is handled as an exit.
     */
    void checkProcessesEvery(Duration period) {
        watch.sweepEvery(period, table, vm -> onDisconnect(vm, "QEMU exited (found by the process check)"));
    }

    void setObserver(DriverObserver observer) {
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    /** The reason of a guest the hypervisor stopped because it could not run its code. */
    String hypervisorFailure() {
        return hypervisorFailure;
    }

    /** An asynchronous event from the VM's monitor; called on the monitor loop's thread. */
    void onEvent(QemuProcess vm, QmpEvent event) {
        switch (event.name()) {
            case "SHUTDOWN" -> vm.shutdownReason(event.data().path("reason").asText("unknown"));
            // A STOP is a pause, or the hypervisor giving up on the guest: only the run state tells,
            // and asking for it cannot wait on the monitor loop's thread, which this is.
            // Whether the driver's own pause or resume caused it is known only now: it ends with the reply.
            case "STOP" -> {
                boolean driversOwn = vm.commandInFlight();
                inOrder(vm, () -> onStop(vm, driversOwn));
            }
            case "RESUME" -> {
                if (!vm.commandInFlight()) {
                    inOrder(vm, () -> changed(vm, VmStatus.PAUSED, VmStatus.RUNNING, "resumed (RESUME event)"));
                }
            }
            case "RESET" -> {
                // The guest's own reboot, not a system_reset sent over a monitor: it runs on.
                if (event.data().path("guest").asBoolean(false)) {
                    inOrder(vm, () -> notice(vm.id, "guest rebooted (" + event.data().path("reason").asText("reset") + ")"));
                }
            }
            case "GUEST_PANICKED" -> {
                vm.panicked();
                notice(vm.id, VmStatus.CRASHED, "guest panicked");
            }
            default -> log.debug("VM {}: event {} {}", vm.id, event.name(), event.data());
        }
    }

    /** The VM's monitor closed: QEMU exited, or was killed, or dropped the connection. */
    void onDisconnect(QemuProcess vm, String reason) {
        if (closed || !vm.isSupervised() || !table.holds(vm) || !vm.watchExit()) {
            return;
        }
        try {
            watch.awaitGone(vm, StopSequence.EXIT_AFTER_EOF.multipliedBy(2), gone -> noticeExit(vm, reason, gone));
        } catch (RejectedExecutionException e) {
            log.debug("VM {}: monitor closed while the driver closes", vm.id);
        }
    }

    private void inOrder(QemuProcess vm, Runnable task) {
        try {
            vm.events.execute(task);
        } catch (RejectedExecutionException e) {
            log.debug("VM {}: event while the driver closes", vm.id);
        }
    }

    private void onStop(QemuProcess vm, boolean driversOwn) {
        if (vm.status() != VmStatus.RUNNING) {
            return; // paused already, or CRASHED by a GUEST_PANICKED that came first
        }
        String runState;
        try {
            runState = vm.qmp().execute("query-status").path("status").asText("");
        } catch (DriverException e) {
            log.debug("VM {}: query-status after STOP failed: {}", vm.id, e.getMessage());
            return; // the monitor is gone: supervision of the exit takes it from here
        }
        if (QemuDriver.INTERNAL_ERROR.equals(runState)) {
            endAsCrashed(vm, hypervisorFailure);
        } else if (!"guest-panicked".equals(runState) && !driversOwn) {
            changed(vm, VmStatus.RUNNING, VmStatus.PAUSED, "paused (STOP event)");
        }
    }

    /** Ends a VM that cannot go on (its QEMU would sit paused forever) and reports it CRASHED. */
    private void endAsCrashed(QemuProcess vm, String reason) {
        if (!vm.takeCrash()) {
            return;
        }
        log.warn("VM {}: {}", vm.id, reason);
        try {
            if (!stops.quit(vm)) {
                stops.forceGone(vm);
            }
        } catch (DriverException e) {
            log.error("VM {}: {}", vm.id, e.getMessage());
        }
        table.crashed(vm.id, reason);
        table.forget(vm);
        notice(vm.id, VmStatus.CRASHED, reason);
    }

    private void changed(QemuProcess vm, VmStatus from, VmStatus to, String reason) {
        if (vm.transition(from, to)) {
            notice(vm.id, to, reason);
        }
    }

    private void noticeExit(QemuProcess vm, String monitorReason, boolean gone) {
        if (!vm.takeUnexpectedExit(gone)) {
            return;
        }
        if (!gone) {
            log.warn("VM {}: QMP connection lost ({}) but QEMU (pid {}) still runs; killing it so that none runs unwatched",
                    vm.id, monitorReason, vm.pid);
            try {
                stops.forceGone(vm);
            } catch (DriverException e) {
                log.error("VM {}: {}", vm.id, e.getMessage());
                return;
            }
        }
        ExitClassification exit = ExitClassification.of(vm.shutdownReason(), gone, monitorReason, vm.pid);
        if (exit.status() == VmStatus.CRASHED) {
            table.crashed(vm.id, exit.reason());
        } else {
            table.clearCrash(vm.id);
        }
        table.forget(vm);
        log.info("VM {}: {}", vm.id, exit.reason());
        notice(vm.id, exit.status(), exit.reason());
    }

    private void notice(String vmId, String resetReason) {
        if (closed) {
            return;
        }
        try {
            observer.guestReset(vmId, resetReason);
        } catch (RuntimeException e) {
            log.warn("VM {}: the observer failed on a reset", vmId, e);
        }
    }

    private void notice(String vmId, VmStatus status, String reason) {
        if (closed) {
            return;
        }
        try {
            observer.statusChanged(vmId, status, reason);
        } catch (RuntimeException e) {
            log.warn("VM {}: the observer failed on {}", vmId, status, e);
        }
    }

    /** Stops reporting: after this no notice reaches the observer. */
    @Override
    public void close() {
        closed = true;
        if (ownTimer != null) {
            ownTimer.shutdownNow();
        }
    }
}
