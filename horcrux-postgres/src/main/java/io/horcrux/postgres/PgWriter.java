package io.horcrux.postgres;

import io.horcrux.StoreException;
import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmConflictException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Vm;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import io.horcrux.spi.HostLease;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's writes, each on a connection of the pool: a single statement in auto-commit
 * mode where one statement does it, else one transaction. Writers do not serialise each other
 * in Java: PostgreSQL's row locks do, and every update and delete is a compare-and-set on the
 * version ({@code WHERE id = ? AND version = ?}).
 */
final class PgWriter {
    private static final Logger log = LoggerFactory.getLogger(PostgresVmStore.class);

    private final Connections connections;
    private final PgRows rows;
    private final String where;
    private final Runnable ensureOpen;
    private final Supplier<HostLease> token;

    /** @param token the fencing token every write carries: the bound lease, or null for none */
    PgWriter(Connections connections, PgRows rows, String where, Runnable ensureOpen, Supplier<HostLease> token) {
        this.token = token;
        this.connections = connections;
        this.rows = rows;
        this.where = where;
        this.ensureOpen = ensureOpen;
    }

    /** All rows, and their labels, in one transaction: all or none. */
    void insertAll(List<Vm> vms) {
        Objects.requireNonNull(vms, "vms");
        vms.forEach(vm -> Objects.requireNonNull(vm, "vms must not contain null"));
        ensureOpen.run();
        if (vms.isEmpty()) {
            return;
        }
        Set<String> seen = new HashSet<>();
        boolean repeated = false;
        for (Vm vm : vms) {
            repeated |= !seen.add(vm.id());
        }
        HostLease writer = token.get();
        try (Connection c = connections.getConnection()) {
            if (repeated) {
                throw alreadyExists(c, vms);
            }
            boolean inserted = inTransaction(c, () -> {
                try (PreparedStatement insertVm = c.prepareStatement(rows.insert);
                     PreparedStatement insertLabel = c.prepareStatement(rows.insertLabel)) {
                    for (Vm vm : vms) {
                        PgRows.bindInsert(insertVm, vm, writer);
                        insertVm.addBatch();
                        PgRows.addLabels(insertLabel, vm);
                    }
                    insertVm.executeBatch();
                    insertLabel.executeBatch();
                    return true;
                } catch (SQLException e) {
                    if (PgErrors.isUniqueViolation(e)) {
                        return false;
                    }
                    throw e;
                }
            });
            if (!inserted) {
                VmAlreadyExistsException taken = alreadyExists(c, vms);
                if (!taken.vmIds().isEmpty()) {
                    throw taken;
                }
                throw new StoreException(where + ": inserting " + describe(vms)
                        + " failed on a unique constraint, yet none of its ids is stored now; retry");
            }
        } catch (SQLException e) {
            throw PgErrors.failure(where, "inserting " + describe(vms), e);
        }
        if (log.isDebugEnabled()) {
            log.debug("{}: inserted {}", where, describe(vms));
        }
    }

    /** The error naming every id repeated in the batch or taken in the table, in request order. */
    private VmAlreadyExistsException alreadyExists(Connection c, List<Vm> vms) throws SQLException {
        Set<String> taken = PgReader.existingIds(c, rows, vms.stream().map(Vm::id).distinct().toList());
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
        ensureOpen.run();
        String specJson = PgRows.specJson(vm.spec());
        HostLease writer = token.get();
        try (Connection c = connections.getConnection()) {
            // Most updates are status changes of an unchanged spec: one statement, no label rows.
            try (PreparedStatement ps = c.prepareStatement(rows.updateState)) {
                PgRows.bindUpdateState(ps, vm, expectedVersion, specJson, writer);
                if (ps.executeUpdate() == 1) {
                    return;
                }
            }
            RuntimeException refused = inTransaction(c, () -> {
                try (PreparedStatement ps = c.prepareStatement(rows.update)) {
                    PgRows.bindUpdate(ps, vm, expectedVersion, writer);
                    if (ps.executeUpdate() == 0) {
                        return missingOrConflict(c, vm.id(), expectedVersion);
                    }
                }
                try (PreparedStatement deleteLabels = c.prepareStatement(rows.deleteLabels);
                     PreparedStatement insertLabel = c.prepareStatement(rows.insertLabel)) {
                    deleteLabels.setString(1, vm.id());
                    deleteLabels.executeUpdate();
                    PgRows.addLabels(insertLabel, vm);
                    insertLabel.executeBatch();
                }
                return null;
            });
            if (refused != null) {
                throw refused;
            }
        } catch (SQLException e) {
            throw PgErrors.failure(where, "updating VM " + vm.id(), e);
        }
    }

    void delete(String id, long expectedVersion) {
        Objects.requireNonNull(id, "id");
        ensureOpen.run();
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement(rows.delete)) {
            // One statement is one transaction; the labels go with it (ON DELETE CASCADE).
            HostLease writer = token.get();
            ps.setString(1, id);
            ps.setLong(2, expectedVersion);
            ps.setString(3, writer == null ? null : writer.host());
            ps.setString(4, writer == null ? null : writer.host());
            ps.setLong(5, writer == null ? 0 : writer.epoch());
            if (ps.executeUpdate() == 0) {
                if (writer != null) {
                    PgLeases.requireLive(c, rows, writer, where, "deleting VM " + id);
                }
                throw missingOrConflict(c, id, expectedVersion);
            }
        } catch (SQLException e) {
            throw PgErrors.failure(where, "deleting VM " + id, e);
        }
    }

    /** Why a compare-and-set matched no row. */
    private RuntimeException missingOrConflict(Connection c, String id, long expectedVersion) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(rows.versionOf)) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? new VmConflictException(id, expectedVersion) : new VmNotFoundException(id);
            }
        }
    }

    /** The work of a transaction; its result, returned rather than thrown, rolls it back when not null/true. */
    @FunctionalInterface
    interface Work<T> {
        T run() throws SQLException;
    }

    /**
     * Runs {@code work} in one transaction on {@code c}: committed when it returns {@code true}
     * or {@code null}, rolled back when it returns anything else or throws; {@code c} is back in
     * auto-commit mode after.
     */
    static <T> T inTransaction(Connection c, Work<T> work) throws SQLException {
        c.setAutoCommit(false);
        boolean committed = false;
        try {
            T result = work.run();
            if (result == null || Boolean.TRUE.equals(result)) {
                c.commit();
                committed = true;
            }
            return result;
        } finally {
            try {
                if (!committed) {
                    c.rollback();
                }
            } finally {
                c.setAutoCommit(true);
            }
        }
    }

    private static String describe(List<Vm> vms) {
        return vms.size() == 1 ? "VM " + vms.get(0).id() : vms.size() + " VMs (" + vms.get(0).id() + ", ...)";
    }
}
