package io.horcrux.spi;

import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The durable inventory behind a {@link io.horcrux.VmManager}: one record per VM, written with
 * optimistic concurrency. The manager is the only caller in normal use; implement this to keep
 * the inventory somewhere new, and prove the implementation with the {@code VmStoreContract}
 * test of {@code horcrux-testkit}.
 *
 * <p>Give each store to one manager, and build one manager per inventory: the manager caches
 * what it stores and takes the store's word that nobody else writes. {@link VmCodec} turns a
 * VM or its spec into bytes and back, for whatever the store does not keep in columns of its
 * own.
 *
 * @implSpec An implementation must:
 * <ul>
 *   <li><strong>Own its inventory alone.</strong> At most one open store may serve an
 *       inventory (a database file, a schema, a bucket) at a time, in this process or any
 *       other: opening a second one on the same inventory must fail with a
 *       {@link io.horcrux.StoreException} naming the holder, and closing the first (or its
 *       process dying) must let the next one open. The manager's cache, its reattach to
 *       running VMs and the driver's orphan sweep all rely on this: a second manager writing
 *       the same inventory would be served stale VMs, and would have the driver delete the disks
 *       of VMs only the other one knows. The contract checks it where its subclass can open a
 *       second store on the same inventory ({@code secondStoreOnTheSameInventory()}).
 *       A store that offers {@link #hostLeases()} shares its inventory with the stores of other
 *       hosts instead: then at most one open store may serve each host, and the leases'
 *       fencing tokens, checked by the database, keep the hosts apart.</li>
 *   <li>Keep every VM's {@link Vm#owner() owner} as written.</li>
 *   <li>Be thread-safe: the manager calls from many threads at once, for different VMs.
 *       Reads never wait for other reads.</li>
 *   <li>A {@link Vm}'s {@link Vm#version() version} is what concurrency control compares:
 *       {@link #update} and {@link #delete} succeed only while the stored version equals the
 *       expected one, and throw {@link io.horcrux.VmConflictException} otherwise. Nothing is
 *       ever overwritten silently.</li>
 *   <li>A failed write leaves nothing behind; {@link #insertAll} is all or none.</li>
 *   <li>Return exactly what was stored: a read gives a {@link Vm} equal to the one written
 *       (instants to at least the millisecond).</li>
 *   <li>Listing is by id, with a keyset cursor: the cursor is the id of the last item.</li>
 *   <li>Failures of the storage itself are {@link io.horcrux.StoreException}s.</li>
 *   <li><strong>Snapshots</strong> ({@link #snapshots}, {@link #insertSnapshot},
 *       {@link #revertSnapshot}, {@link #deleteSnapshot}) are kept apart from the VM's record
 *       (their own table) and read only when asked for, never with {@link #find} or a list. At
 *       most one snapshot of a VM is {@linkplain io.horcrux.model.Snapshot#current() current};
 *       deleting a snapshot re-hangs its children from its parent (and makes its parent current
 *       if it was); deleting the VM deletes its snapshots. Each write is one transaction. The
 *       defaults refuse with a {@link io.horcrux.StoreException}; the contract checks every
 *       implementation that keeps them.</li>
 *   <li><strong>The snapshot journal</strong> ({@link #recordSnapshotIntent},
 *       {@link #snapshotIntents}, {@link #clearSnapshotIntent}): at most one
 *       {@link SnapshotIntent} per VM, durable once written, read back exactly, deleted with its
 *       VM, and apart from the VM's record and its snapshots (writing or clearing one changes
 *       neither); each snapshot write removes the VM's entry in its own transaction, a refused
 *       one leaves it. A store that keeps snapshots keeps the journal; the contract checks it.</li>
 *   <li><strong>Linked clones</strong> ({@link #insertLinkedClone}, {@link #linkedClones}): the
 *       store knows which VMs are linked to which template, indexed, stored in one transaction
 *       with the clone and gone with it. A template's {@link io.horcrux.model.VmStatus#TEMPLATE
 *       status} is stored like any other and listed by {@code VmQuery.withStatus}.</li>
 *   <li>{@link #close()} is idempotent; other calls after it throw {@link IllegalStateException}.</li>
 * </ul>
 */
public interface VmStore extends AutoCloseable {

    /**
     * Stores a new VM.
     *
     * @throws io.horcrux.VmAlreadyExistsException if its id is taken
     */
    void insert(Vm vm);

    /**
     * Stores new VMs in one transaction: all or none.
     *
     * @throws io.horcrux.VmAlreadyExistsException naming every id that is taken or repeated in
     *                                             the list; nothing is stored
     */
    void insertAll(List<Vm> vms);

    /** The VM with this id, if stored. */
    Optional<Vm> find(String id);

    /**
     * Which of these ids are stored now: how the manager finds the taken ids of a whole
     * batch before it provisions anything.
     *
     * @implSpec The default calls {@link #find} once per distinct id; a store that can answer
     *           for many ids in one query (an {@code IN} list, a multi-get) should override it.
     * @param ids the ids to look up, in any order, repeats allowed; ids that are not valid VM
     *            ids are simply not stored
     * @return the ids of {@code ids} that are stored, unmodifiable, in no particular order
     * @throws NullPointerException  if {@code ids} or one of them is null
     * @throws io.horcrux.StoreException if the inventory cannot be read
     * @throws IllegalStateException if the store is closed
     */
    default Set<String> existingIds(Collection<String> ids) {
        Objects.requireNonNull(ids, "ids");
        Set<String> taken = new HashSet<>();
        for (String id : Set.copyOf(ids)) {
            if (find(id).isPresent()) {
                taken.add(id);
            }
        }
        return Set.copyOf(taken);
    }

    /**
     * Replaces the stored VM with {@code vm} if the stored version is {@code expectedVersion}.
     *
     * @throws io.horcrux.VmNotFoundException if no VM has that id
     * @throws io.horcrux.VmConflictException if the stored version differs
     */
    void update(Vm vm, long expectedVersion);

    /**
     * Removes the VM if the stored version is {@code expectedVersion}.
     *
     * @throws io.horcrux.VmNotFoundException if no VM has that id
     * @throws io.horcrux.VmConflictException if the stored version differs
     */
    void delete(String id, long expectedVersion);

    /**
     * One page of matching VMs in id order: at most {@code query.limit()} items (or
     * {@link VmQuery#DEFAULT_LIMIT}), after {@code query.after()} if set. The page's next
     * cursor is present exactly when more matches follow.
     */
    Page<Vm> list(VmQuery query);

    /**
     * Every matching VM in id order (honouring {@code after} and, if set, {@code limit}),
     * read lazily. The stream may hold a database cursor and a connection: the caller must
     * close it; it also releases them when exhausted or when reading fails.
     */
    Stream<Vm> stream(VmQuery query);

    /** How many VMs match the filters (cursor and limit ignored). */
    default long count(VmQuery query) {
        try (Stream<Vm> vms = stream(query.withoutPaging())) {
            return vms.count();
        }
    }

    // ---------------------------------------------------------------- snapshots

    /**
     * The snapshots of a VM, oldest first (by {@code takenAt}, then name): empty when it has
     * none or is not stored.
     *
     * @implSpec The default refuses: this store keeps no snapshots.
     * @throws io.horcrux.StoreException if the inventory cannot be read, or keeps no snapshots
     */
    default java.util.List<io.horcrux.model.Snapshot> snapshots(String vmId) {
        throw new io.horcrux.StoreException(getClass().getSimpleName() + " keeps no snapshots (VM '" + vmId + "')");
    }

    /**
     * Stores a new snapshot of a stored VM and makes it the VM's current one (whatever
     * {@code snapshot.current()} says): the one that was current stops being so. Removes the VM's
     * {@linkplain #recordSnapshotIntent journalled operation} in the same transaction.
     *
     * @implSpec The default refuses: this store keeps no snapshots.
     * @throws io.horcrux.VmNotFoundException             if no VM has that id
     * @throws io.horcrux.SnapshotAlreadyExistsException if the VM has a snapshot of that name
     * @throws io.horcrux.SnapshotNotFoundException      if its parent is not a snapshot of the VM
     */
    default void insertSnapshot(String vmId, io.horcrux.model.Snapshot snapshot) {
        throw new io.horcrux.StoreException(getClass().getSimpleName() + " keeps no snapshots (VM '" + vmId + "')");
    }

    /**
     * Makes the named snapshot the VM's current one, and removes the VM's
     * {@linkplain #recordSnapshotIntent journalled operation} in the same transaction.
     *
     * @implSpec The default refuses: this store keeps no snapshots.
     * @throws io.horcrux.SnapshotNotFoundException if the VM has no snapshot of that name
     */
    default void revertSnapshot(String vmId, String name) {
        throw new io.horcrux.StoreException(getClass().getSimpleName() + " keeps no snapshots (VM '" + vmId + "')");
    }

    /**
     * Removes the named snapshot: its children hang from its parent now (roots if it was one),
     * and if it was current its parent is (none if it was a root). Removes the VM's
     * {@linkplain #recordSnapshotIntent journalled operation} in the same transaction.
     *
     * @implSpec The default refuses: this store keeps no snapshots.
     * @throws io.horcrux.SnapshotNotFoundException if the VM has no snapshot of that name
     */
    default void deleteSnapshot(String vmId, String name) {
        throw new io.horcrux.StoreException(getClass().getSimpleName() + " keeps no snapshots (VM '" + vmId + "')");
    }

    // ---------------------------------------------------------------- linked clones

    /**
     * Stores a new VM that is a linked clone of the stored VM {@code templateId} (its disks are
     * overlays on the template's), with the link, in one transaction: the VM and its link, or
     * nothing. The link lasts as long as the clone: deleting the clone removes it.
     *
     * @implSpec The default refuses with a {@link io.horcrux.StoreException}: this store keeps no
     *           links. The contract checks every implementation that keeps them.
     * @throws io.horcrux.VmAlreadyExistsException if the clone's id is taken; nothing is stored
     * @throws io.horcrux.VmNotFoundException      if no VM has the id {@code templateId}; nothing is stored
     */
    default void insertLinkedClone(Vm clone, String templateId) {
        throw new io.horcrux.StoreException(getClass().getSimpleName() + " keeps no linked clones (VM '"
                + clone.id() + "' of template '" + templateId + "')");
    }

    /**
     * The ids of the stored VMs linked to {@code templateId} by {@link #insertLinkedClone}, in
     * id order; empty when it has none or is not stored. The manager asks before it deletes a
     * template, so an implementation answers from an index, not a scan.
     *
     * @implSpec The default is empty: a store that keeps no links has no linked clones.
     */
    default java.util.List<String> linkedClones(String templateId) {
        Objects.requireNonNull(templateId, "templateId");
        return java.util.List.of();
    }

    /**
     * Journals a snapshot operation the manager is about to begin on a stored VM, replacing the
     * VM's previous entry if one is left (a VM has at most one operation in flight: the manager
     * holds its lock). Written before the driver touches the images, so a crash leaves the entry
     * behind for {@link #snapshotIntents()}. The write that records the operation's result
     * ({@link #insertSnapshot}, {@link #revertSnapshot}, {@link #deleteSnapshot}) removes the entry
     * in its own transaction, so an entry is left exactly when the result was not recorded.
     *
     * @implSpec The default refuses: this store keeps no snapshots. An implementation keeps the
     *           entry durably (one transaction) apart from the VM's record, never changes the
     *           VM's record or its snapshots, and deletes the entry with the VM.
     * @throws io.horcrux.VmNotFoundException if no VM has that id
     */
    default void recordSnapshotIntent(SnapshotIntent intent) {
        throw new io.horcrux.StoreException(getClass().getSimpleName() + " keeps no snapshots (VM '"
                + intent.vmId() + "')");
    }

    /**
     * Every journalled snapshot operation, in VM id order: what {@link #recordSnapshotIntent}
     * wrote and {@link #clearSnapshotIntent} did not clear. The manager reads it once when it
     * opens, to finish or roll back what a crash cut off.
     *
     * @implSpec The default is empty: a store that keeps no snapshots has nothing in flight.
     */
    default java.util.List<SnapshotIntent> snapshotIntents() {
        return java.util.List.of();
    }

    /**
     * Removes the VM's journalled snapshot operation, if any. Idempotent.
     *
     * @implSpec The default refuses: this store keeps no snapshots.
     */
    default void clearSnapshotIntent(String vmId) {
        throw new io.horcrux.StoreException(getClass().getSimpleName() + " keeps no snapshots (VM '" + vmId + "')");
    }

    /**
     * The lease part of a store that several hosts share (see {@link HostLeases}), or empty
     * for a store that serves one host alone.
     *
     * @implSpec The default is empty: the store is single-host, its exclusive hold on the
     *           inventory is the only fence, and the manager's host is the only one it knows.
     */
    default Optional<HostLeases> hostLeases() {
        return Optional.empty();
    }

    /** Releases connections and files. Idempotent. */
    @Override
    void close();
}
