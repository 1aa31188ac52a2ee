package io.horcrux.model;

/** The image format of a disk. */
public enum DiskFormat {
    /** QEMU copy-on-write: sparse, supports snapshots. The default. */
    QCOW2,
    /** A plain image: fastest, no features. */
    RAW;

    /** The name QEMU and qemu-img use for this format. */
    public String qemuName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
