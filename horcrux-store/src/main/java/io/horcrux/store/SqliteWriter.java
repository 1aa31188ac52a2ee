package io.horcrux.store;

import io.horcrux.StoreException;
import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmConflictException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Vm;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's writes: one connection, its statements prepared once, and a lock that serialises
 * every write as a {@code BEGIN IMMEDIATE} transaction (or a single statement, which is one),
 * so writers never fail on each other with {@code SQLITE_BUSY}.
 */
final class SqliteWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SqliteVmStore.class);

    private final String where;
    private final Runnable ensureOpen;
    private final Connection writer;
    private final ReentrantLock writeLock = new ReentrantLock();

    // Prepared once on the writer connection, used only under writeLock.
    private final PreparedStatement begin;
    private final PreparedStatement commit;
    private final PreparedStatement rollback;
    private final PreparedStatement insertVm;
    private final PreparedStatement insertLabel;
    private final PreparedStatement updateVm;
    private final PreparedStatement updateState;
    private final PreparedStatement deleteLabels;
    private final PreparedStatement deleteVm;
    private final PreparedStatement versionOf;

    /**
     * @param writer     the connection, migrated; closed by {@link #close()}
     * @param ensureOpen throws if the store is closed; run under the write lock
     */
    SqliteWriter(Connection writer, String where, Runnable ensureOpen) throws SQLException {
        this.where = where;
        this.ensureOpen = ensureOpen;
        this.writer = writer;
        begin = writer.prepareStatement("BEGIN IMMEDIATE");
        commit = writer.prepareStatement("COMMIT");
        rollback = writer.prepareStatement("ROLLBACK");
        insertVm = writer.prepareStatement(VmRows.INSERT);
        insertLabel = writer.prepareStatement(VmRows.INSERT_LABEL);
        updateVm = writer.prepareStatement(VmRows.UPDATE);
        updateState = writer.prepareStatement(VmRows.UPDATE_STATE);
        deleteLabels = writer.prepareStatement(VmRows.DELETE_LABELS);
        deleteVm = writer.prepareStatement(VmRows.DELETE);
        versionOf = writer.prepareStatement(VmRows.VERSION_OF);
    }

    void insertAll(List<Vm> vms) {
        Objects.requireNonNull(vms, "vms");
        vms.forEach(vm -> Objects.requireNonNull(vm, "vms must not contain null"));
        if (vms.isEmpty()) {
            return;
        }
        Set<String> seen = new HashSet<>();
        boolean repeated = false;
        for (Vm vm : vms) {
            repeated |= !seen.add(vm.id());
        }
        writeLock.lock();
        try {
            ensureOpen.run();
            if (repeated) {
                throw alreadyExists(vms);
            }
            beginWrite();
            try {
                for (Vm vm : vms) {
                    VmRows.bindInsert(insertVm, vm);
                    insertVm.addBatch();
                    VmRows.addLabels(insertLabel, vm);
                }
                insertVm.executeBatch();
                insertLabel.executeBatch();
                commit.execute();
            } catch (SQLException | RuntimeException e) {
                abort(e);
                if (e instanceof SQLException sql && isConstraintViolation(sql)) {
                    VmAlreadyExistsException taken = alreadyExists(vms);
                    if (!taken.vmIds().isEmpty()) {
                        throw taken;
                    }
                }
                throw failure("inserting " + describe(vms), e);
            }
        } finally {
            writeLock.unlock();
        }
        if (log.isDebugEnabled()) {
            log.debug("{}: inserted {}", where, describe(vms));
        }
    }

    /** The error naming every id repeated in the batch or taken in the table, in request order; under writeLock. */
    private VmAlreadyExistsException alreadyExists(List<Vm> vms) {
        Set<String> taken;
        try {
            taken = VmRows.existingIds(vms.stream().map(Vm::id).distinct().toList(), writer::prepareStatement, true);
        } catch (SQLException e) {
            throw failure("checking which ids exist", e);
        }
        Set<String> seen = new HashSet<>();
        Set<String> offending = new LinkedHashSet<>();
        for (Vm vm : vms) {
            if (!seen.add(vm.id()) || taken.contains(vm.id())) {
                offending.add(vm.id());
            }
        }
        return new VmAlreadyExistsException(new ArrayList<>(offending));
    }

    void update(Vm vm, long expectedVersion) {
        Objects.requireNonNull(vm, "vm");
        writeLock.lock();
        try {
            ensureOpen.run();
            try {
                // Most updates are status changes of an unchanged spec: one statement, which is
                // one transaction, and no label rows to rewrite.
                VmRows.bindUpdateState(updateState, vm, expectedVersion, VmRows.specJson(vm.spec()));
                if (updateState.executeUpdate() == 1) {
                    return;
                }
            } catch (SQLException e) {
                throw failure("updating VM " + vm.id(), e);
            }
            beginWrite();
            try {
                VmRows.bindUpdate(updateVm, vm, expectedVersion);
                if (updateVm.executeUpdate() == 0) {
                    RuntimeException why = missingOrConflict(vm.id(), expectedVersion);
                    rollback.execute();
                    throw why;
                }
                deleteLabels.setString(1, vm.id());
                deleteLabels.executeUpdate();
                VmRows.addLabels(insertLabel, vm);
                insertLabel.executeBatch();
                commit.execute();
            } catch (VmNotFoundException | VmConflictException e) {
                throw e;
            } catch (SQLException | RuntimeException e) {
                abort(e);
                throw failure("updating VM " + vm.id(), e);
            }
        } finally {
            writeLock.unlock();
        }
    }

    void delete(String id, long expectedVersion) {
        Objects.requireNonNull(id, "id");
        writeLock.lock();
        try {
            ensureOpen.run();
            try {
                // One statement is one transaction; the labels go with it (ON DELETE CASCADE).
                deleteVm.setString(1, id);
                deleteVm.setLong(2, expectedVersion);
                if (deleteVm.executeUpdate() == 0) {
                    throw missingOrConflict(id, expectedVersion);
                }
            } catch (SQLException e) {
                throw failure("deleting VM " + id, e);
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Work on the writer connection inside a transaction. */
    interface Work<T> {
        T run(Connection writer) throws SQLException;
    }

    /**
     * Runs {@code work} in one write transaction on the writer connection, under the write lock:
     * committed when it returns, rolled back when it throws (a Horcrux exception passes through,
     * an {@link SQLException} becomes a {@link StoreException} naming {@code operation}).
     */
    <T> T inTransaction(String operation, Work<T> work) {
        writeLock.lock();
        try {
            ensureOpen.run();
            beginWrite();
            try {
                T result = work.run(writer);
                commit.execute();
                return result;
            } catch (SQLException | RuntimeException e) {
                abort(e);
                if (e instanceof RuntimeException r) {
                    throw r;
                }
                throw failure(operation, e);
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Why a compare-and-set matched no row; under writeLock. */
    private RuntimeException missingOrConflict(String id, long expectedVersion) throws SQLException {
        versionOf.setString(1, id);
        try (ResultSet rs = versionOf.executeQuery()) {
            return rs.next() ? new VmConflictException(id, expectedVersion) : new VmNotFoundException(id);
        }
    }

    private void beginWrite() {
        try {
            begin.execute();
        } catch (SQLException e) {
            throw failure("starting a write transaction", e);
        }
    }

    private void abort(Exception cause) {
        // Called only after our BEGIN; SQLite may already have rolled back (then this fails harmlessly).
        try {
            rollback.execute();
        } catch (SQLException e) {
            cause.addSuppressed(e);
        }
    }

    private static boolean isConstraintViolation(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && (s.getErrorCode() & 0xff) == 19) { // SQLITE_CONSTRAINT
                return true;
            }
        }
        return false;
    }

    /**
     * Closes the statements and the connection (which checkpoints the WAL into the database
     * file), after the write in flight, if any.
     */
    @Override
    public void close() {
        writeLock.lock();
        try {
            for (Statement s : List.of(begin, commit, rollback, insertVm, insertLabel, updateVm, updateState,
                    deleteLabels, deleteVm, versionOf)) {
                closeQuietly(s);
            }
            closeQuietly(writer);
        } finally {
            writeLock.unlock();
        }
    }

    private StoreException failure(String operation, Exception e) {
        if (e instanceof StoreException se) {
            return se;
        }
        return new StoreException(where + ": " + operation + " failed (" + e.getMessage() + ")", e);
    }

    private static String describe(List<Vm> vms) {
        return vms.size() == 1 ? "VM " + vms.get(0).id() : vms.size() + " VMs (" + vms.get(0).id() + ", ...)";
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            log.debug("closing {} failed", c, e);
        }
    }
}
