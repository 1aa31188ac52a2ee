package io.horcrux.model;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Something happened to a VM: its status changed, it was created, deleted or moved, or a long
 * operation (a snapshot, a revert, a clone) finished on it. {@link #kind()} says which; a
 * listener interested only in status changes checks {@link #isStatusChange()}.
 *
 * <p>Every event carries the VM's status before and after. For an event that does not change
 * the status (a create, a delete, a move, a snapshot, a reboot) both are the VM's status at
 * the time: a created VM's initial status, a deleted VM's last one. Events of one VM arrive in
 * the order they happened, on every host that shares the inventory.
 *
 * @param vmId           the VM
 * @param kind           what happened
 * @param previousStatus the status before
 * @param newStatus      the status after
 * @param reason         why, for example {@code "start requested"} or {@code "process killed by signal 9"}
 * @param time           when the manager recorded it (from its {@link java.time.Clock})
 * @param version        the VM's version after it (for a delete, its last version); grows with
 *                       every change of one VM
 * @param subject        what the event is about besides the VM, where the kind has one: the
 *                       snapshot's name, the host a VM moved to, the VM a clone was made from
 */
public record VmEvent(String vmId, Kind kind, VmStatus previousStatus, VmStatus newStatus, String reason,
                      Instant time, long version, Optional<String> subject) {

    /** What happened to the VM. */
    public enum Kind {
        /** The VM's status changed, or something happened in its status (a reboot, a fault noticed). */
        STATUS_CHANGED,
        /** The VM was added to the inventory (also a clone, with the source as subject). */
        CREATED,
        /** The VM was removed from the inventory. */
        DELETED,
        /** The VM got a new owner; the subject is the host it moved to. */
        MOVED,
        /** A snapshot was taken; the subject is its name. */
        SNAPSHOT_TAKEN,
        /** The VM was reverted to a snapshot; the subject is its name. */
        REVERTED,
        /** A snapshot was deleted; the subject is its name. */
        SNAPSHOT_DELETED,
        /** The VM became a template. */
        TEMPLATE_MADE,
        /** A clone of this VM was made; the subject is the clone's id. */
        CLONED
    }

    public VmEvent {
        Objects.requireNonNull(vmId, "vmId");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(previousStatus, "previousStatus");
        Objects.requireNonNull(newStatus, "newStatus");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(subject, "subject");
    }

    /** A status change (or an event within one status, when both are equal). */
    public VmEvent(String vmId, VmStatus previousStatus, VmStatus newStatus, String reason, Instant time,
                   long version) {
        this(vmId, Kind.STATUS_CHANGED, previousStatus, newStatus, reason, time, version, Optional.empty());
    }

    /**
     * An event that leaves the VM's status as it is.
     *
     * @param subject the snapshot, host or VM the event is about, or null when the kind has none
     */
    public static VmEvent of(Kind kind, Vm vm, String subject, String reason, Instant time) {
        Objects.requireNonNull(vm, "vm");
        return new VmEvent(vm.id(), kind, vm.status(), vm.status(), reason, time, vm.version(),
                Optional.ofNullable(subject));
    }

    /** Whether this event is a status change, the kind listeners of earlier versions received alone. */
    public boolean isStatusChange() {
        return kind == Kind.STATUS_CHANGED;
    }
}
