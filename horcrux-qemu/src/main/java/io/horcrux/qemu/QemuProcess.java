package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.horcrux.internal.HostProcess;
import io.horcrux.model.VmStatus;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * One QEMU process of a VM, started or reattached by the driver: its identity (pid and start
 * time), its monitor, what the driver last knew of its status, and who is handling its end.
 * Exactly one party ends a process: a stop of the driver's ({@link #requestStop()}), the
 * supervision of an exit it did not ask for ({@link #takeUnexpectedExit(boolean)}), or the
 * handling of a guest the hypervisor gave up on ({@link #takeCrash()}); the others then leave it
 * alone. Thread-safe: the flags are guarded by this object's monitor.
 */
final class QemuProcess {
    final String id;
    final VmFiles files;
    final long pid;
    final long startTicks;
    /** The names of the spec's disks, in its order: disk N is QEMU's device {@code diskN}. */
    final List<String> diskNames;
    /** Handles the VM's monitor events (and its console's followers) in order, off the monitor loop's thread. */
    final SerialExecutor events;
    private volatile QmpClient qmp;
    /** The driver's end of the serial console, once connected; null before or without one. */
    private volatile SerialConsole console;
    /** RUNNING, PAUSED, or CRASHED after a guest panic or a hypervisor failure. */
    private volatile VmStatus status = VmStatus.RUNNING;
    private final java.util.concurrent.atomic.AtomicInteger commandsInFlight = new java.util.concurrent.atomic.AtomicInteger();
    /** The spec's port forwards with the host ports QEMU bound, once read; empty before or without any. */
    private volatile List<io.horcrux.model.PortForward> forwards = List.of();
    /** The {@code reason} of the last SHUTDOWN event, or null. */
    private volatile String shutdownReason;
    /** A stop of the driver's (or a crash's handling) is in progress or done: an exit is expected. */
    private boolean stopRequested;
    /** The end of the process was handled. */
    private boolean ended;
    /** The driver was closed: the process runs on, unwatched. */
    private boolean detached;
    /** Its exit is being awaited (its monitor closed, or the process check found it gone). */
    private boolean exitWatched;

    /** A process whose disks are not known (one that is only to be ended). */
    QemuProcess(String id, VmFiles files, long pid, long startTicks, Executor pool) {
        this(id, files, pid, startTicks, List.of(), pool);
    }

    QemuProcess(String id, VmFiles files, long pid, long startTicks, List<String> diskNames, Executor pool) {
        this.id = id;
        this.files = files;
        this.pid = pid;
        this.startTicks = startTicks;
        this.diskNames = List.copyOf(diskNames);
        this.events = new SerialExecutor(pool);
    }

    /** The driver's monitor connection, once made; null before. */
    QmpClient qmp() {
        return qmp;
    }

    void connected(QmpClient client) {
        if (qmp != null) {
            throw new IllegalStateException("VM '" + id + "' is connected already");
        }
        qmp = Objects.requireNonNull(client, "client");
    }

    List<io.horcrux.model.PortForward> forwards() {
        return forwards;
    }

    void forwards(List<io.horcrux.model.PortForward> bound) {
        forwards = List.copyOf(bound);
    }

    SerialConsole console() {
        return console;
    }

    void console(SerialConsole serial) {
        console = Objects.requireNonNull(serial, "serial");
    }

    /** Closes the driver's connections to the process (monitor and console); the process is untouched. */
    void disconnect() {
        QmpClient monitor = qmp;
        if (monitor != null) {
            monitor.close();
        }
        SerialConsole serial = console;
        if (serial != null) {
            serial.close();
        }
    }

    boolean isGone() {
        return HostProcess.isGone(pid, startTicks);
    }

    VmStatus status() {
        return status;
    }

    /** Takes what QEMU reported ({@code query-status}), unless the VM is known to have crashed. */
    void observed(JsonNode queryStatus) {
        VmStatus seen = statusOf(queryStatus);
        if (status != VmStatus.CRASHED) {
            status = seen;
        }
    }

    /** A pause or resume of the driver's own succeeded. */
    void commanded(VmStatus now) {
        status = now;
    }

    /**
     * Runs a pause or resume of the driver's own ({@code stop}, {@code cont}) and takes
     * {@code after} as the status once it succeeded. While it runs, the STOP or RESUME it causes
     * is known as the driver's ({@link #commandInFlight()}), not news.
     */
    void command(String command, VmStatus after) {
        commandsInFlight.incrementAndGet();
        try {
            qmp.execute(command);
            commanded(after);
        } finally {
            commandsInFlight.decrementAndGet();
        }
    }

    /** Whether a pause or resume of the driver's own is under way: a STOP or RESUME now is its doing. */
    boolean commandInFlight() {
        return commandsInFlight.get() > 0;
    }

    /** The guest panicked: CRASHED, whatever QEMU reports next. */
    void panicked() {
        status = VmStatus.CRASHED;
    }

    void shutdownReason(String reason) {
        shutdownReason = reason;
    }

    /** The {@code reason} of the last SHUTDOWN event (for example {@code guest-shutdown}), or null. */
    String shutdownReason() {
        return shutdownReason;
    }

    /** Moves {@code from} to {@code to} for an event, unless a stop is under way or the status moved on. */
    synchronized boolean transition(VmStatus from, VmStatus to) {
        if (stopRequested || status != from) {
            return false;
        }
        status = to;
        return true;
    }

    /** The driver stops the process: its exit is expected from now on. */
    synchronized void requestStop() {
        stopRequested = true;
    }

    /** A stop failed with the process alive: an exit is unexpected again. */
    synchronized void stopFailed() {
        stopRequested = false;
    }

    /** A start failed: nothing is to be supervised. */
    synchronized void abandon() {
        stopRequested = true;
        ended = true;
    }

    /** Whether this is the first call: the exit is to be awaited once, however it was noticed. */
    synchronized boolean watchExit() {
        boolean first = !exitWatched;
        exitWatched = true;
        return first;
    }

    /** The process's end was handled. */
    synchronized void ended() {
        ended = true;
    }

    /** The driver closed: the process runs on, nobody reports on it. */
    synchronized void detach() {
        detached = true;
    }

    /** Whether an end of the process now would be news: not asked for, not handled, not detached. */
    synchronized boolean isSupervised() {
        return !stopRequested && !ended && !detached;
    }

    /**
     * Takes the handling of an exit nobody asked for; false when someone else has it. When the
     * process is not {@code gone} (its monitor closed, it lives on) the handler is to kill it.
     */
    synchronized boolean takeUnexpectedExit(boolean gone) {
        if (!isSupervised()) {
            return false;
        }
        if (!gone) {
            stopRequested = true;
        }
        ended = gone;
        return true;
    }

    /** Takes the handling of a guest that cannot go on, which ends CRASHED; false when someone else has it. */
    synchronized boolean takeCrash() {
        if (!isSupervised()) {
            return false;
        }
        stopRequested = true;
        status = VmStatus.CRASHED;
        return true;
    }

    /** The status of a {@code query-status} reply. */
    static VmStatus statusOf(JsonNode queryStatus) {
        String status = queryStatus.path("status").asText("");
        return switch (status) {
            case "running" -> VmStatus.RUNNING;
            case "guest-panicked", QemuDriver.INTERNAL_ERROR -> VmStatus.CRASHED;
            case "shutdown" -> VmStatus.STOPPED;
            default -> queryStatus.path("running").asBoolean(false) ? VmStatus.RUNNING : VmStatus.PAUSED;
        };
    }

    @Override
    public String toString() {
        return "QemuProcess[" + id + ", pid " + pid + "]";
    }
}
