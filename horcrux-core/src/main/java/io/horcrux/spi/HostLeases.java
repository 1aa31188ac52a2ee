package io.horcrux.spi;

import io.horcrux.model.Vm;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The lease part of a store that several hosts share: one lease row per host, renewed by
 * heartbeat, whose epoch is the fencing token of every write the host makes. Offered by
 * {@link VmStore#hostLeases()}; a single-host store offers none.
 *
 * @implSpec An implementation must:
 * <ul>
 *   <li>Keep times on the database's clock, never the caller's.</li>
 *   <li>{@link #acquire} increments the host's epoch (1 for a new host), whatever state the
 *       previous lease was in, so every earlier holder's token is stale from then on; it binds
 *       the store to that host and epoch.</li>
 *   <li>Once bound, the store writes (insert, update, delete) with its token, and the
 *       <strong>database</strong> refuses a write whose token is not the host's current epoch
 *       or whose lease has expired, with a {@link io.horcrux.LeaseLostException}; nothing of
 *       the refused write is stored. A bound store creates only VMs its host owns, and changes
 *       a VM owned by another host only while that VM is stopped or crashed, or that host's
 *       lease has expired.</li>
 *   <li>{@link #renew} extends only a live lease of the bound epoch; an expired or superseded
 *       one is a {@link io.horcrux.LeaseLostException}, and must be taken anew.</li>
 *   <li>{@link #followChanges} delivers every committed change once, in sequence order, also
 *       across a lost and regained connection, each with the owner before and after (so a
 *       move is told from a status change) and the host that wrote it; a delete counts as
 *       written by the VM's owner, the only host that may delete it.</li>
 *   <li>{@link #takeOver} changes, in one transaction per dead host, only VMs of hosts whose
 *       lease expired more than the grace ago by the database's clock, with version checks.</li>
 * </ul>
 * The {@code HostLeasesContract} of {@code horcrux-testkit} checks these duties.
 */
public interface HostLeases {

    /**
     * Takes the lease of {@code host} for this store: epoch + 1, expiring at the database's now
     * plus {@code ttl}. From now on this store's writes carry the new epoch.
     *
     * @throws io.horcrux.StoreException if another open store holds this host (naming it), or the
     *                                   database fails
     */
    HostLease acquire(String host, Duration ttl);

    /**
     * Extends the bound lease to the database's now plus {@code ttl}.
     *
     * @throws io.horcrux.LeaseLostException if the lease expired or another store took the host
     * @throws io.horcrux.StoreException     if the database cannot be reached
     * @throws IllegalStateException         if no lease was acquired
     */
    HostLease renew(Duration ttl);

    /**
     * Ends the bound lease now (it expires at the database's now); its token is stale from then
     * on, and another store may take the host. A released host is not dead: nobody takes its
     * VMs over (they are stopped; move them). Idempotent; does nothing when no lease was acquired.
     */
    void release();

    /** Every host that ever took a lease on this inventory, with its lease now, by name. */
    List<HostLease> hosts();

    /**
     * Takes over the VMs of every other host whose lease expired more than {@code grace} ago:
     * each of its VMs is replaced by {@code change.apply(vm)} (which must name this store's host
     * as owner and carry the next version), in one transaction per dead host.
     *
     * @return each VM taken over, as it was and as it is now
     * @throws io.horcrux.LeaseLostException if this store's own lease is stale; nothing changed
     */
    List<Takeover> takeOver(Duration grace, UnaryOperator<Vm> change);

    /**
     * Delivers to {@code listener}, on a thread of the store's, every change of a VM that any
     * host commits from now on, in the store's sequence (so in write order per VM), until the
     * returned handle is closed. The store's table of changes is the source of truth: a store
     * may be woken early (PostgreSQL's {@code NOTIFY}) but looks at least every
     * {@code pollInterval}, and after a lost connection carries on from the last change it
     * delivered, so none is skipped while the table still holds it.
     *
     * @return closing it stops the delivery; idempotent
     */
    AutoCloseable followChanges(java.time.Duration pollInterval, java.util.function.Consumer<StoredChange> listener);

    /** A VM taken over from a dead host: as it was there, and as stored now. */
    record Takeover(Vm before, Vm after) {
    }
}
