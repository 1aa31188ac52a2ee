package io.horcrux.qemu;

/** The QEMU machine type the driver starts VMs with. */
public enum MachineType {
    /** A modern PC (ICH9 chipset, PCIe, SeaBIOS): runs any x86 guest. The default. */
    Q35("q35", "pci"),
    /**
     * A minimal machine without PCI or legacy devices (virtio over MMIO): starts fastest and
     * costs almost no CPU while idle; meant for direct kernel boot.
     */
    MICROVM("microvm", "device");

    private final String qemuName;
    private final String virtioBus;

    MachineType(String qemuName, String virtioBus) {
        this.qemuName = qemuName;
        this.virtioBus = virtioBus;
    }

    /** The name in QEMU's {@code -machine} option. */
    String qemuName() {
        return qemuName;
    }

    /** The suffix of virtio device names on this machine: {@code virtio-blk-pci} or {@code virtio-blk-device}. */
    String virtioBus() {
        return virtioBus;
    }
}
