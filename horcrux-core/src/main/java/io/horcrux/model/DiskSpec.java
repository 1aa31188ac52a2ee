package io.horcrux.model;

import java.util.Objects;

/**
 * A virtual disk of a VM: a name unique within the VM, a format and a virtual size in bytes.
 * The driver provisions the image when the VM is created and removes it when it is deleted.
 *
 * <p>Like the other parts of a spec, a {@code DiskSpec} is checked when the {@link VmSpec}
 * holding it is built, so that one {@link io.horcrux.InvalidVmSpecException} can list the
 * violations of every part at once.
 *
 * @param name      {@code [a-z0-9][a-z0-9-]{0,31}}, unique within the VM
 * @param format    the image format
 * @param sizeBytes virtual size, a positive multiple of 512 between
 *                  {@link VmSpec#MIN_DISK_BYTES} and {@link VmSpec#MAX_DISK_BYTES}
 * @param readOnly  whether the guest sees the disk read-only
 */
public record DiskSpec(String name, DiskFormat format, long sizeBytes, boolean readOnly) {
    public DiskSpec {
        Objects.requireNonNull(format, "format");
    }

    /** A writable qcow2 disk, the usual choice. */
    public static DiskSpec qcow2(String name, long sizeBytes) {
        return new DiskSpec(name, DiskFormat.QCOW2, sizeBytes, false);
    }

    /** A writable raw disk. */
    public static DiskSpec raw(String name, long sizeBytes) {
        return new DiskSpec(name, DiskFormat.RAW, sizeBytes, false);
    }

    /** This disk, read-only for the guest. */
    public DiskSpec asReadOnly() {
        return new DiskSpec(name, format, sizeBytes, true);
    }
}
