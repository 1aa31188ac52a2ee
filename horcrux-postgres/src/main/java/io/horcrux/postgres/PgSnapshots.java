package io.horcrux.postgres;

import io.horcrux.SnapshotAlreadyExistsException;
import io.horcrux.SnapshotNotFoundException;
import io.horcrux.StoreException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Snapshot;
import io.horcrux.model.VmStatus;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code vm_snapshots} table of one schema: each VM's snapshot tree, read only when asked
 * for. Each write is one transaction that first locks the VM's row, so writes to the snapshots
 * of one VM take turns.
 */
final class PgSnapshots {
    private static final String COLUMNS = "name, parent, taken_at, with_memory, is_current, taken_while";

    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    private final Connections connections;
    private final String where;
    private final Runnable ensureOpen;
    private final Runnable ensureWritable;
    private final String vms;
    private final String table;
    private final String intents;
    private final String list;
    private final String one;

    /** @param schema the schema's name, already quoted */
    PgSnapshots(Connections connections, String schema, String where, Runnable ensureOpen, Runnable ensureWritable) {
        this.connections = connections;
        this.where = where;
        this.ensureOpen = ensureOpen;
        this.ensureWritable = ensureWritable;
        this.vms = schema + ".vms";
        this.table = schema + ".vm_snapshots";
        this.intents = schema + ".vm_snapshot_intents";
        this.list = "SELECT " + COLUMNS + " FROM " + table + " WHERE vm_id = ? ORDER BY taken_at, name";
        this.one = "SELECT " + COLUMNS + " FROM " + table + " WHERE vm_id = ? AND name = ?";
    }

    /** Runs {@code work} in one transaction (see {@link PgWriter#inTransaction}); it returns null to commit. */
    private void inTransaction(String operation, Work<Void> work) {
        ensureWritable.run();
        try (Connection c = connections.getConnection()) {
            PgWriter.inTransaction(c, () -> work.run(c));
        } catch (SQLException e) {
            throw new StoreException(where + ": " + operation + " failed (" + e.getMessage() + ")", e);
        }
    }

    List<Snapshot> list(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        ensureOpen.run();
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement(list)) {
            ps.setString(1, vmId);
            List<Snapshot> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(snapshot(rs));
                }
            }
            return List.copyOf(result);
        } catch (SQLException e) {
            throw new StoreException(where + ": reading the snapshots of VM " + vmId + " failed (" + e.getMessage() + ")", e);
        }
    }

    void insert(String vmId, Snapshot snapshot) {
        Objects.requireNonNull(vmId, "vmId");
        Objects.requireNonNull(snapshot, "snapshot");
        inTransaction("storing snapshot " + snapshot.name() + " of VM " + vmId, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + vms + " WHERE id = ? FOR UPDATE")) {
                ps.setString(1, vmId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new VmNotFoundException(vmId);
                    }
                }
            }
            if (one(c, vmId, snapshot.name()).isPresent()) {
                throw new SnapshotAlreadyExistsException(vmId, snapshot.name());
            }
            if (snapshot.parent().isPresent() && one(c, vmId, snapshot.parent().get()).isEmpty()) {
                throw new SnapshotNotFoundException(vmId, snapshot.parent().get());
            }
            update(c, "UPDATE " + table + " SET is_current = false WHERE vm_id = ?", vmId);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (vm_id, " + COLUMNS
                    + ") VALUES (?, ?, ?, ?, ?, true, ?)")) {
                ps.setString(1, vmId);
                ps.setString(2, snapshot.name());
                ps.setString(3, snapshot.parent().orElse(null));
                ps.setLong(4, PgRows.epochNanos(snapshot.takenAt(), vmId, "snapshot takenAt"));
                ps.setBoolean(5, snapshot.withMemory());
                ps.setString(6, snapshot.takenWhile().name());
                ps.executeUpdate();
            }
            update(c, "DELETE FROM " + intents + " WHERE vm_id = ?", vmId); // recorded: the journal entry is done
            return null;
        });
    }

    void revert(String vmId, String name) {
        inTransaction("reverting VM " + vmId + " to snapshot " + name, c -> {
            lockVm(c, vmId);
            existing(c, vmId, name);
            update(c, "UPDATE " + table + " SET is_current = (name = ?) WHERE vm_id = ?", name, vmId);
            update(c, "DELETE FROM " + intents + " WHERE vm_id = ?", vmId); // recorded: the journal entry is done
            return null;
        });
    }

    void delete(String vmId, String name) {
        inTransaction("deleting snapshot " + name + " of VM " + vmId, c -> {
            lockVm(c, vmId);
            Snapshot gone = existing(c, vmId, name);
            update(c, "DELETE FROM " + table + " WHERE vm_id = ? AND name = ?", vmId, name);
            update(c, "UPDATE " + table + " SET parent = ? WHERE vm_id = ? AND parent = ?",
                    gone.parent().orElse(null), vmId, name);
            if (gone.current() && gone.parent().isPresent()) {
                update(c, "UPDATE " + table + " SET is_current = true WHERE vm_id = ? AND name = ?", vmId,
                        gone.parent().get());
            }
            update(c, "DELETE FROM " + intents + " WHERE vm_id = ?", vmId); // recorded: the journal entry is done
            return null;
        });
    }

    private Snapshot existing(Connection c, String vmId, String name) throws SQLException {
        return one(c, vmId, name).orElseThrow(() -> new SnapshotNotFoundException(vmId, name));
    }

    private Optional<Snapshot> one(Connection c, String vmId, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(one)) {
            ps.setString(1, vmId);
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(snapshot(rs)) : Optional.empty();
            }
        }
    }

    private void lockVm(Connection c, String vmId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + vms + " WHERE id = ? FOR UPDATE")) {
            ps.setString(1, vmId);
            ps.executeQuery().close();
        }
    }

    private static void update(Connection c, String sql, String... parameters) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                ps.setString(i + 1, parameters[i]);
            }
            ps.executeUpdate();
        }
    }

    private static Snapshot snapshot(ResultSet rs) throws SQLException {
        return new Snapshot(rs.getString(1), Optional.ofNullable(rs.getString(2)), PgRows.instant(rs.getLong(3)),
                rs.getBoolean(4), rs.getBoolean(5), VmStatus.valueOf(rs.getString(6)));
    }
}
