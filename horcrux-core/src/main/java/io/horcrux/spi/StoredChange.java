package io.horcrux.spi;

import io.horcrux.model.VmStatus;
import java.time.Instant;
import java.util.Objects;

/**
 * One change of a VM as a shared store recorded it, in the store's sequence: a create (no
 * previous status), a status or owner change, or a delete (no status).
 * {@link #isMove()} tells an owner change from a status change.
 *
 * @param sequence       the store's sequence number, growing; per VM in the order of the writes
 * @param vmId           the VM
 * @param version        the VM's version after the change (before it, for a delete)
 * @param previousStatus the status before, or null for a create
 * @param status         the status after, or null for a delete
 * @param reason         the VM's status reason after the change
 * @param previousOwner  the VM's owner before the change, or null for a create
 * @param owner          the VM's owner after the change
 * @param writtenBy      the host whose write it was, or null for a single-host store's
 * @param at             the VM's {@code updatedAt} after the change
 */
public record StoredChange(long sequence, String vmId, long version, VmStatus previousStatus, VmStatus status,
                           String reason, String previousOwner, String owner, String writtenBy,
                           Instant at) {
    public StoredChange {
        Objects.requireNonNull(vmId, "vmId");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(at, "at");
    }

    /** Whether the change gave the VM another owner (a move, or a takeover). */
    public boolean isMove() {
        return previousOwner != null && status != null && !previousOwner.equals(owner);
    }
}
