package io.horcrux;

import io.horcrux.model.VmEvent;

/**
 * Receives every status change of every VM a {@link VmManager} manages, including changes
 * noticed behind the manager's back (a QEMU process that died, a guest that powered off).
 *
 * <p>Events are delivered on one Horcrux thread, once each, in the order they happened for
 * each VM. A listener should return quickly; one that throws is logged and keeps receiving
 * later events, and never affects the manager or other listeners.
 */
@FunctionalInterface
public interface VmEventListener {
    void onEvent(VmEvent event);
}
