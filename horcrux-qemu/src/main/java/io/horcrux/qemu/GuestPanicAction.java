package io.horcrux.qemu;

/**
 * What QEMU does when a guest kernel panics (reported through the {@code pvpanic} device every VM
 * has). Either way the VM becomes {@code CRASHED} with the reason "guest panicked".
 */
public enum GuestPanicAction {
    /** QEMU ends: the VM can be started again at once. The default. */
    END("exit-failure"),
    /**
     * QEMU keeps the process, its vCPUs paused, for inspection (its memory over the operator
     * monitor, for one); a later start or delete of the VM ends it first.
     */
    KEEP_PAUSED("pause");

    private final String qemuAction;

    GuestPanicAction(String qemuAction) {
        this.qemuAction = qemuAction;
    }

    /** The value of QEMU's {@code -action panic=}. */
    String qemuAction() {
        return qemuAction;
    }
}
