package io.horcrux.qemu;

import io.horcrux.model.VmStatus;

/** The driver's view of one QEMU process it started or reattached to. Guarded by its own monitor. */
final class QemuVm {
    final String id;
    final VmFiles files;
    final long pid;
    final long startTicks;
    volatile QmpClient qmp; // set once, right after the connection is made
    /** RUNNING, PAUSED, or CRASHED after a guest panic. */
    volatile VmStatus status = VmStatus.RUNNING;
    /** The {@code reason} of the last SHUTDOWN event, or null. */
    volatile String shutdownReason;
    /** A stop of ours is in progress or done: an exit is expected, not a notice. */
    boolean stopRequested;
    /** The end of the process was handled, by a stop or by supervision. */
    boolean ended;
    /** The driver was closed: the process runs on, unwatched. */
    volatile boolean detached;
    /** Handles the VM's monitor events in order, off the monitor's reader thread. */
    final SerialExecutor events;

    QemuVm(String id, VmFiles files, long pid, long startTicks, java.util.concurrent.Executor pool) {
        this.id = id;
        this.files = files;
        this.pid = pid;
        this.startTicks = startTicks;
        this.events = new SerialExecutor(pool);
    }

    boolean isGone() {
        return HostProcess.isGone(pid, startTicks);
    }

    @Override
    public String toString() {
        return "QemuVm[" + id + ", pid " + pid + "]";
    }
}
