package io.horcrux.spi;

import io.horcrux.model.VmStatus;

/**
 * Told by a {@link VmDriver} about changes it notices on its own: a process that exited or
 * was killed, a guest that powered off or panicked, a VM paused or resumed through another
 * monitor. The manager re-reads {@link VmDriver#status(String)} under its per-VM lock and
 * records the change, so a late or duplicated notice does no harm.
 */
@FunctionalInterface
public interface DriverObserver {
    /**
     * Called on a driver thread; must not block for long.
     *
     * @param vmId     the VM
     * @param observed the status the driver now sees
     * @param reason   what happened, in words
     */
    void statusChanged(String vmId, VmStatus observed, String reason);

    /**
     * The guest reset itself (a reboot) and runs on: no status changes, but listeners hear of it.
     * Called on a driver thread; must not block for long. The default ignores it.
     */
    default void guestReset(String vmId, String reason) {
    }
}
