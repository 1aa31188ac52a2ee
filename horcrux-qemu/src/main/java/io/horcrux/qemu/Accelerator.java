package io.horcrux.qemu;

/** How QEMU runs guest code. */
public enum Accelerator {
    /** KVM when {@code /dev/kvm} can be opened for reading and writing, otherwise TCG (logged at INFO). */
    AUTO,
    /** Hardware virtualisation through {@code /dev/kvm}; the driver refuses to build when it is not usable. */
    KVM,
    /** QEMU's portable binary translator: slower, needs no privileges or hardware support. */
    TCG;

    /** The name of the accelerator in QEMU's {@code -accel} option. */
    String qemuName() {
        if (this == AUTO) {
            throw new IllegalStateException("AUTO must be resolved to KVM or TCG first");
        }
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
