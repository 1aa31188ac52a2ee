package io.horcrux.store;

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
 * The {@code vm_snapshots} table: each VM's snapshot tree, read only when asked for. Writes go
 * through the writer's transactions, reads through a reader connection.
 */
final class SqliteSnapshots {
    private static final String COLUMNS = "name, parent, taken_at, with_memory, is_current, taken_while";
    private static final String LIST = "SELECT " + COLUMNS + " FROM vm_snapshots WHERE vm_id = ? ORDER BY taken_at, name";
    private static final String ONE = "SELECT " + COLUMNS + " FROM vm_snapshots WHERE vm_id = ? AND name = ?";

    private final SqliteWriter writes;
    private final SqliteReader reads;
    private final String where;

    SqliteSnapshots(SqliteWriter writes, SqliteReader reads, String where) {
        this.writes = writes;
        this.reads = reads;
        this.where = where;
    }

    List<Snapshot> list(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        try (Connection c = reads.connection(); PreparedStatement ps = c.prepareStatement(LIST)) {
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
        writes.inTransaction("storing snapshot " + snapshot.name() + " of VM " + vmId, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM vms WHERE id = ?")) {
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
            update(c, "UPDATE vm_snapshots SET is_current = 0 WHERE vm_id = ?", vmId);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO vm_snapshots (vm_id, " + COLUMNS
                    + ") VALUES (?, ?, ?, ?, ?, 1, ?)")) {
                ps.setString(1, vmId);
                ps.setString(2, snapshot.name());
                ps.setString(3, snapshot.parent().orElse(null));
                ps.setLong(4, VmRows.epochNanos(snapshot.takenAt(), vmId, "snapshot takenAt"));
                ps.setInt(5, snapshot.withMemory() ? 1 : 0);
                ps.setString(6, snapshot.takenWhile().name());
                ps.executeUpdate();
            }
            update(c, "DELETE FROM vm_snapshot_intents WHERE vm_id = ?", vmId); // recorded: the journal entry is done
            return null;
        });
    }

    void revert(String vmId, String name) {
        writes.inTransaction("reverting VM " + vmId + " to snapshot " + name, c -> {
            existing(c, vmId, name);
            update(c, "UPDATE vm_snapshots SET is_current = (name = ?) WHERE vm_id = ?", name, vmId);
            update(c, "DELETE FROM vm_snapshot_intents WHERE vm_id = ?", vmId); // recorded: the journal entry is done
            return null;
        });
    }

    void delete(String vmId, String name) {
        writes.inTransaction("deleting snapshot " + name + " of VM " + vmId, c -> {
            Snapshot gone = existing(c, vmId, name);
            update(c, "DELETE FROM vm_snapshots WHERE vm_id = ? AND name = ?", vmId, name);
            update(c, "UPDATE vm_snapshots SET parent = ? WHERE vm_id = ? AND parent = ?",
                    gone.parent().orElse(null), vmId, name);
            if (gone.current() && gone.parent().isPresent()) {
                update(c, "UPDATE vm_snapshots SET is_current = 1 WHERE vm_id = ? AND name = ?", vmId,
                        gone.parent().get());
            }
            update(c, "DELETE FROM vm_snapshot_intents WHERE vm_id = ?", vmId); // recorded: the journal entry is done
            return null;
        });
    }

    private static Snapshot existing(Connection c, String vmId, String name) throws SQLException {
        return one(c, vmId, name).orElseThrow(() -> new SnapshotNotFoundException(vmId, name));
    }

    private static Optional<Snapshot> one(Connection c, String vmId, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(ONE)) {
            ps.setString(1, vmId);
            ps.setString(2, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(snapshot(rs)) : Optional.empty();
            }
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
        return new Snapshot(rs.getString(1), Optional.ofNullable(rs.getString(2)), VmRows.instant(rs.getLong(3)),
                rs.getInt(4) != 0, rs.getInt(5) != 0, VmStatus.valueOf(rs.getString(6)));
    }
}
