package io.horcrux.model;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A virtual disk of a VM: a name unique within the VM, a format, a virtual size in bytes and
 * where its content comes from ({@link DiskKind}). The driver provisions the image when the VM
 * is created and removes it when it is deleted; a source image (a base, a copied image, an ISO)
 * is the user's and is never written or removed.
 *
 * <pre>{@code
 * DiskSpec.qcow2("data", 8L << 30);                                  // empty, 8 GiB
 * DiskSpec.overlay("root", Path.of("/images/debian-12.qcow2"));      // the base's size
 * DiskSpec.overlay("root", base).withSizeBytes(20L << 30);           // a larger disk on the base
 * DiskSpec.copyOf("root", Path.of("/images/golden.qcow2"));          // an independent qcow2 copy
 * DiskSpec.cdrom("install", Path.of("/images/debian-12-netinst.iso"));
 * }</pre>
 *
 * <p>Like the other parts of a spec, a {@code DiskSpec} is checked when the {@link VmSpec}
 * holding it is built, so that one {@link io.horcrux.InvalidVmSpecException} can list the
 * violations of every part at once. What only the host can tell (the source is missing, not a
 * file, unreadable, not an image QEMU reads, a qcow2 whose backing file is missing) the driver
 * checks before anything is written, when the VM is created.
 *
 * @param name      {@code [a-z0-9][a-z0-9-]{0,31}}, unique within the VM
 * @param format    the image format of the VM's disk: {@link DiskFormat#QCOW2} for an overlay,
 *                  {@link DiskFormat#RAW} for a CD-ROM (an ISO is read as raw)
 * @param sizeBytes virtual size, a positive multiple of 512 between
 *                  {@link VmSpec#MIN_DISK_BYTES} and {@link VmSpec#MAX_DISK_BYTES}; for an
 *                  overlay or a copy {@code 0} means the source's size, and a size given must
 *                  not be smaller than the source's; always {@code 0} for a CD-ROM
 * @param readOnly  whether the guest sees the disk read-only; always for a CD-ROM
 * @param kind      where the content comes from; {@link DiskKind#EMPTY} when null
 * @param source    for an overlay, a copy or a CD-ROM: the absolute, normalised host path of
 *                  the source image; {@code null} for an empty disk
 */
public record DiskSpec(String name, DiskFormat format, long sizeBytes, boolean readOnly, DiskKind kind, String source) {
    public DiskSpec {
        Objects.requireNonNull(format, "format");
        if (kind == null) {
            kind = DiskKind.EMPTY;
        }
    }

    /** An empty disk: {@code DiskSpec(name, format, sizeBytes, readOnly, EMPTY, null)}. */
    public DiskSpec(String name, DiskFormat format, long sizeBytes, boolean readOnly) {
        this(name, format, sizeBytes, readOnly, DiskKind.EMPTY, null);
    }

    /** A writable, empty qcow2 disk, the usual choice. */
    public static DiskSpec qcow2(String name, long sizeBytes) {
        return new DiskSpec(name, DiskFormat.QCOW2, sizeBytes, false);
    }

    /** A writable, empty raw disk. */
    public static DiskSpec raw(String name, long sizeBytes) {
        return new DiskSpec(name, DiskFormat.RAW, sizeBytes, false);
    }

    /**
     * A writable qcow2 overlay on {@code baseImage}: the guest sees the base's content and its
     * writes go to the overlay alone; the base is opened read-only and never written, so many
     * VMs may share one base (a cloud image, say). Its virtual size is the base's unless
     * {@link #withSizeBytes(long)} gives a larger one. The driver finds the base's format once,
     * when the VM is created, and records it in the overlay, so QEMU never guesses it. The base
     * must stay where it is for as long as the VM exists.
     *
     * @param baseImage the base image; a relative path is resolved against the working
     *                  directory now, and the path is normalised
     */
    public static DiskSpec overlay(String name, Path baseImage) {
        return new DiskSpec(name, DiskFormat.QCOW2, 0, false, DiskKind.OVERLAY, hostPath(baseImage, "baseImage"));
    }

    /**
     * A writable qcow2 disk that is a full, independent copy of {@code source}, made when the VM
     * is created ({@code qemu-img convert}): writes to either never reach the other. The copy's
     * progress reaches the listener given to {@code VmManager.create(spec, listener,
     * cancellation)}, which can also cancel it. Its virtual size is the source's unless
     * {@link #withSizeBytes(long)} gives a larger one.
     *
     * @param source the image to copy; a relative path is resolved against the working
     *               directory now, and the path is normalised
     */
    public static DiskSpec copyOf(String name, Path source) {
        return copyOf(name, source, DiskFormat.QCOW2);
    }

    /** As {@link #copyOf(String, Path)}, the copy in the given format. */
    public static DiskSpec copyOf(String name, Path source, DiskFormat format) {
        return new DiskSpec(name, format, 0, false, DiskKind.COPY, hostPath(source, "source"));
    }

    /**
     * The ISO 9660 image {@code iso} as a read-only CD-ROM, for install media: attached in
     * place (nothing is copied), and bootable when {@link BootSpec#devices} puts
     * {@link BootDevice#CDROM} first. The QEMU driver attaches it to a virtio-scsi controller
     * (the guest needs {@code virtio_scsi} and {@code sr_mod}, which distribution kernels have).
     *
     * @param iso the image; a relative path is resolved against the working directory now, and
     *            the path is normalised
     */
    public static DiskSpec cdrom(String name, Path iso) {
        return new DiskSpec(name, DiskFormat.RAW, 0, true, DiskKind.CDROM, hostPath(iso, "iso"));
    }

    /** This disk, read-only for the guest. */
    public DiskSpec asReadOnly() {
        return new DiskSpec(name, format, sizeBytes, true, kind, source);
    }

    /**
     * This disk with another virtual size; for an overlay or a copy, a size larger than the
     * source's grows the disk (the guest sees the rest as zeros). Checked with the spec.
     */
    public DiskSpec withSizeBytes(long sizeBytes) {
        return new DiskSpec(name, format, sizeBytes, readOnly, kind, source);
    }

    /** The {@link #source()} as a path, for a disk that has one. */
    public java.util.Optional<Path> sourcePath() {
        return source == null ? java.util.Optional.empty() : java.util.Optional.of(Path.of(source));
    }

    private static String hostPath(Path path, String what) {
        return Objects.requireNonNull(path, what).toAbsolutePath().normalize().toString();
    }
}
