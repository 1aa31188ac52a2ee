package io.horcrux.spi;

import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The durable inventory behind a {@link io.horcrux.VmManager}: one record per VM, written with
 * optimistic concurrency. The manager is the only caller in normal use; implement this to keep
 * the inventory somewhere new, and prove the implementation with the {@code VmStoreContract}
 * test of {@code horcrux-testkit}.
 *
 * <p>Contract for implementations:
 * <ul>
 *   <li>Thread-safe. Reads never wait for other reads.</li>
 *   <li>A {@link Vm}'s {@link Vm#version() version} is what concurrency control compares:
 *       {@link #update} and {@link #delete} succeed only while the stored version equals the
 *       expected one, and throw {@link io.horcrux.VmConflictException} otherwise. Nothing is
 *       ever overwritten silently.</li>
 *   <li>A failed write leaves nothing behind; {@link #insertAll} is all or none.</li>
 *   <li>Listing is by id, with a keyset cursor: the cursor is the id of the last item.</li>
 *   <li>Failures of the storage itself are {@link io.horcrux.StoreException}s.</li>
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

    /** Releases connections and files. Idempotent. */
    @Override
    void close();
}
