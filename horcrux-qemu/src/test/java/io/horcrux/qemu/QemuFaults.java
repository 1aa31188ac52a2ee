package io.horcrux.qemu;

import io.horcrux.DriverException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Faults injected into a VM's QEMU for tests outside this package, as another QMP client would
 * inject them: a {@code quit} over the VM's operator monitor, which needs a driver built with
 * {@link QemuDriver.Builder#operatorMonitor(boolean)}.
 */
public final class QemuFaults {
    /** The grace after which a stop escalates, long enough for a fault to land while it waits. */
    public static final Duration LONG_GRACE = Duration.ofSeconds(60);

    private static final Duration CONNECT = Duration.ofSeconds(5);

    private QemuFaults() {
    }

    /** Sends {@code quit} over the running VM's operator monitor; QEMU exits at once. */
    public static void quitOverOperatorMonitor(QemuDriver driver, String vmId) {
        Path socket = driver.operatorMonitor(vmId)
                .orElseThrow(() -> new IllegalStateException("VM '" + vmId + "' has no operator monitor"));
        try (QmpClient client = QmpClient.connect(socket, CONNECT)) {
            quit(client);
        }
    }

    /**
     * Sends {@code quit} over the VM's operator monitor as soon as QEMU listens on it, which is
     * while the driver's own start is still in flight, before the driver knows the VM runs.
     *
     * @param giveUp polled between tries; true stops the tries (the start has ended without a
     *               monitor that accepted)
     * @return whether {@code quit} was sent
     */
    public static boolean quitAsSoonAsItListens(QemuDriver driver, String vmId, BooleanSupplier giveUp)
            throws InterruptedException {
        Path socket = driver.files(vmId).operatorSocket();
        while (!giveUp.getAsBoolean()) {
            if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
                try (QmpClient client = QmpClient.connect(socket, CONNECT)) {
                    quit(client);
                    return true;
                } catch (DriverException notYetOrGone) {
                    // QEMU has made the socket but does not serve it yet, or has gone: look again
                }
            }
            Thread.sleep(1);
        }
        return false;
    }

    private static void quit(QmpClient client) {
        try {
            client.execute("quit");
        } catch (DriverException e) {
            if (client.isOpen()) {
                throw e;
            }
            // QEMU closed the connection as it exited, before its reply got out: the quit was taken
        }
    }
}
