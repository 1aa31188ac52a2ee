package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.internal.HostProcess;
import io.horcrux.spi.StopOutcome;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends a QEMU process, asking first and forcing last: {@code system_powerdown} and a grace
 * period for the guest, then {@code quit}, then SIGTERM, then SIGKILL. "Gone" is the process
 * absent or a zombie, or, after {@code quit}, its monitor closed: it never waits for another
 * process (PID 1 of a container) to reap it.
 */
final class StopSequence {
    private static final Logger log = LoggerFactory.getLogger(StopSequence.class);
    private static final Duration SIGNAL_WAIT = Duration.ofSeconds(5);
    /** After QEMU closes its monitor on {@code quit}, how long its process may take to go. */
    static final Duration EXIT_AFTER_EOF = Duration.ofSeconds(2);

    private final Duration qmpTimeout;

    StopSequence(Duration qmpTimeout) {
        this.qmpTimeout = qmpTimeout;
    }

    /**
     * Ends the process: the guest is asked to power off and given {@code grace} (none when zero),
     * then QEMU is told to quit, then signalled. Returns how it ended.
     *
     * @throws DriverException if the process survives SIGKILL
     */
    StopOutcome stop(QemuProcess vm, Duration grace) {
        if (!grace.isZero() && ask(vm, "system_powerdown") && waitGone(vm, grace, false)) {
            return StopOutcome.GUEST_POWERED_OFF;
        }
        if (quit(vm)) {
            return StopOutcome.ENDED;
        }
        forceGone(vm);
        return StopOutcome.FORCED;
    }

    /** Tells QEMU to quit and waits for it; false if it would not. */
    boolean quit(QemuProcess vm) {
        return ask(vm, "quit") && waitGone(vm, qmpTimeout, true);
    }

    /**
     * SIGTERM, then SIGKILL; returns how it ended.
     *
     * @throws DriverException if the process survives SIGKILL (the process is then no longer
     *                         being stopped: a later exit is news)
     */
    String forceGone(QemuProcess vm) {
        Optional<String> how;
        try {
            how = HostProcess.endWithSignals(vm.pid, vm.startTicks, SIGNAL_WAIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("VM '" + vm.id + "': interrupted while waiting for QEMU to exit", e);
        }
        if (how.isEmpty()) {
            vm.stopFailed();
            throw new DriverException("VM '" + vm.id + "': QEMU (pid " + vm.pid + ") is still alive after SIGKILL");
        }
        return how.get();
    }

    /**
     * Waits until the process is absent or a zombie. With {@code eofIsExit}, a closed monitor
     * counts too (QEMU closes it as it exits), after a short wait for the process.
     */
    boolean waitGone(QemuProcess vm, Duration timeout, boolean eofIsExit) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long eofDeadline = Long.MAX_VALUE;
        while (true) {
            if (vm.isGone()) {
                return true;
            }
            long now = System.nanoTime();
            QmpClient qmp = vm.qmp();
            if (eofIsExit && qmp != null && !qmp.isOpen()) {
                if (eofDeadline == Long.MAX_VALUE) {
                    eofDeadline = now + EXIT_AFTER_EOF.toNanos();
                } else if (now - eofDeadline >= 0) {
                    return true;
                }
            }
            if (now - deadline >= 0) {
                return false;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DriverException("VM '" + vm.id + "': interrupted while waiting for QEMU to exit", e);
            }
        }
    }

    /** Sends a command whose failure only means "try the next step"; false if it could not be sent. */
    private static boolean ask(QemuProcess vm, String command) {
        if (vm.isGone()) {
            return true;
        }
        try {
            vm.qmp().execute(command);
            return true;
        } catch (DriverException e) {
            log.debug("VM {}: '{}' failed: {}", vm.id, command, e.getMessage());
            return !vm.qmp().isOpen();
        }
    }
}
