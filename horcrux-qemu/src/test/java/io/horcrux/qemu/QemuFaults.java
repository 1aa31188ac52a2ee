package io.horcrux.qemu;

import java.time.Duration;

/**
 * Faults injected into a running VM for tests outside this package: a {@code quit} on the VM's
 * monitor that the driver did not ask for, as another QMP client would send it.
 */
public final class QemuFaults {
    private QemuFaults() {
    }

    /** Sends {@code quit} to the VM's QEMU behind the driver's stop logic; QEMU exits at once. */
    public static void quitBehindTheBack(QemuDriver driver, String vmId) {
        driver.qmpOf(vmId).execute("quit");
    }

    /** The grace after which a stop escalates, long enough for a fault to land while it waits. */
    public static final Duration LONG_GRACE = Duration.ofSeconds(60);
}
