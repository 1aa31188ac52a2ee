package io.horcrux.model;

/** What {@link io.horcrux.VmManager#snapshot(String, String, SnapshotMode)} saves. */
public enum SnapshotMode {
    /**
     * The disks, and of a running or paused VM also its memory and device state: what
     * {@link io.horcrux.VmManager#snapshot(String, String)} takes.
     */
    AUTOMATIC,
    /**
     * The disks only, even of a running or paused VM: consistent across all its disks (taken at
     * one instant), as after a power cut. A revert to it leaves the VM stopped.
     */
    DISKS_ONLY
}
