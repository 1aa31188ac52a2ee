package io.horcrux.model;

/**
 * Where a disk's content comes from, and how the guest sees it. See {@link DiskSpec}'s
 * factories.
 */
public enum DiskKind {
    /** A new, empty image of the spec's size: {@link DiskSpec#qcow2}, {@link DiskSpec#raw}. */
    EMPTY,
    /**
     * A new qcow2 image whose backing file is the {@linkplain DiskSpec#source() source} image:
     * the guest reads the base through it and writes only to it; the base is never written.
     * {@link DiskSpec#overlay}.
     */
    OVERLAY,
    /** A full, independent copy of the source image, made when the VM is created. {@link DiskSpec#copyOf}. */
    COPY,
    /**
     * The source file itself (an ISO 9660 image) as a read-only CD-ROM, for install media;
     * bootable through {@link BootDevice#CDROM}. {@link DiskSpec#cdrom}.
     */
    CDROM
}
