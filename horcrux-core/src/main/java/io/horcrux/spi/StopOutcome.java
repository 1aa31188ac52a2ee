package io.horcrux.spi;

/**
 * How {@link VmDriver#stop} ended a VM; the manager's event says it in words ({@link #reason()}).
 */
public enum StopOutcome {
    /** The guest powered itself off when asked (ACPI), within the grace period. */
    GUEST_POWERED_OFF("the guest powered off when asked"),
    /** The hypervisor ended the VM on request ({@code quit}): at once, or once the grace had passed. */
    ENDED("stopped"),
    /** The VM would not end on request and was killed (signals). */
    FORCED("forced off"),
    /** No process ran; only its leftovers were cleaned up. */
    NOT_RUNNING("stopped");

    private final String reason;

    StopOutcome(String reason) {
        this.reason = reason;
    }

    /** The words of the VM's event. */
    public String reason() {
        return reason;
    }
}
