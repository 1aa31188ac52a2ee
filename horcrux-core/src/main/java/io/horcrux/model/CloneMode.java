package io.horcrux.model;

/**
 * How {@code VmManager.clone} makes the new VM's disks from its source's.
 */
public enum CloneMode {
    /**
     * A qcow2 overlay on each of the template's disks, made in milliseconds: the clone reads the
     * template's images through its own layer and writes only to it. Only a
     * {@linkplain VmStatus#TEMPLATE template} has linked clones (its images never change again),
     * and it cannot be deleted while it has them.
     */
    LINKED,
    /**
     * An independent copy of each disk ({@code qemu-img convert}), with progress and cancel, of a
     * template or a stopped VM: writes to either never reach the other, and the source may be
     * deleted afterwards.
     */
    FULL
}
