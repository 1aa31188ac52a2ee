package io.horcrux.qemu;

import io.horcrux.model.VmStatus;

/**
 * What an exit nobody asked for means, from the last SHUTDOWN event's reason and how the
 * process ended: a guest that powered off, or a QEMU that quit on a monitor command, is
 * STOPPED; a guest panic, a signal, a monitor lost with the process alive, or a death without
 * a SHUTDOWN is CRASHED.
 *
 * @param status {@link VmStatus#STOPPED} or {@link VmStatus#CRASHED}
 * @param reason for the notice and the log
 */
record ExitClassification(VmStatus status, String reason) {

    /**
     * @param shutdownReason  the {@code reason} of the last SHUTDOWN event, or null
     * @param exitedByItself  whether the process was gone; false when it was killed for losing its monitor
     * @param monitorReason   why the monitor closed
     * @param pid             the process, for the reason
     */
    static ExitClassification of(String shutdownReason, boolean exitedByItself, String monitorReason, long pid) {
        if ("guest-panic".equals(shutdownReason)) {
            return new ExitClassification(VmStatus.CRASHED, "guest panicked; QEMU ended it");
        }
        if (shutdownReason != null && shutdownReason.startsWith("guest-")) {
            return new ExitClassification(VmStatus.STOPPED, "guest powered off");
        }
        if ("host-qmp-quit".equals(shutdownReason)) {
            return new ExitClassification(VmStatus.STOPPED, "QEMU quit on a monitor command");
        }
        if ("host-signal".equals(shutdownReason)) {
            return new ExitClassification(VmStatus.CRASHED, "QEMU was terminated by a signal");
        }
        if (!exitedByItself) {
            return new ExitClassification(VmStatus.CRASHED,
                    "QEMU monitor connection lost (" + monitorReason + "); process killed");
        }
        return new ExitClassification(VmStatus.CRASHED, "QEMU process (pid " + pid + ") died unexpectedly");
    }
}
