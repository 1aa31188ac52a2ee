package io.horcrux.model;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A named snapshot of one VM, a node of that VM's snapshot tree, as
 * {@link io.horcrux.VmManager#snapshots(String)} lists it.
 *
 * <p>A snapshot's parent is the snapshot the VM was at when it was taken; {@link #current()} is
 * true for the one snapshot the VM is at now (the last one taken or reverted to), if any. After a
 * revert to an older snapshot, the next one taken starts a branch.
 *
 * @param name       the snapshot's name, unique per VM, following the rules of VM ids
 *                   ({@link VmSpec#isValidId})
 * @param parent     the name of its parent; empty for a root
 * @param takenAt    when it was taken
 * @param withMemory whether it holds the guest's memory and device state as well as its disks: a
 *                   revert to it resumes the guest where it was
 * @param current    whether the VM is at this snapshot now
 * @param takenWhile the VM's status when it was taken: {@link VmStatus#STOPPED},
 *                   {@link VmStatus#RUNNING} or {@link VmStatus#PAUSED}; a revert to a snapshot
 *                   with memory leaves the VM in this status
 */
public record Snapshot(String name, Optional<String> parent, Instant takenAt, boolean withMemory, boolean current,
                       VmStatus takenWhile) {

    public Snapshot {
        VmSpec.requireValidId(Objects.requireNonNull(name, "name"));
        Objects.requireNonNull(parent, "parent");
        parent.ifPresent(VmSpec::requireValidId);
        Objects.requireNonNull(takenAt, "takenAt");
        Objects.requireNonNull(takenWhile, "takenWhile");
        if (takenWhile != VmStatus.STOPPED && takenWhile != VmStatus.RUNNING && takenWhile != VmStatus.PAUSED) {
            throw new IllegalArgumentException("takenWhile must be STOPPED, RUNNING or PAUSED, was " + takenWhile);
        }
        if (withMemory && takenWhile == VmStatus.STOPPED) {
            throw new IllegalArgumentException("a snapshot of a stopped VM has no memory");
        }
        if (parent.isPresent() && parent.get().equals(name)) {
            throw new IllegalArgumentException("snapshot '" + name + "' cannot be its own parent");
        }
    }

    /** This snapshot with {@link #current()} set to {@code current}. */
    public Snapshot withCurrent(boolean current) {
        return new Snapshot(name, parent, takenAt, withMemory, current, takenWhile);
    }

    /** This snapshot hanging from {@code parent} (empty: a root). */
    public Snapshot withParent(Optional<String> parent) {
        return new Snapshot(name, parent, takenAt, withMemory, current, takenWhile);
    }
}
