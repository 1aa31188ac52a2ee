package io.horcrux.store;

import io.horcrux.StoreException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Snapshot;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.SnapshotIntent;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** The {@code vm_snapshot_intents} table: the snapshot operations begun and not yet finished. */
final class SqliteSnapshotJournal {
    private static final String COLUMNS =
            "vm_id, operation, name, parent, taken_at, with_memory, is_current, taken_while, started_at";

    private final SqliteWriter writes;
    private final SqliteReader reads;
    private final String where;

    SqliteSnapshotJournal(SqliteWriter writes, SqliteReader reads, String where) {
        this.writes = writes;
        this.reads = reads;
        this.where = where;
    }

    void record(SnapshotIntent intent) {
        Objects.requireNonNull(intent, "intent");
        String vmId = intent.vmId();
        Snapshot s = intent.snapshot();
        writes.inTransaction("journalling a snapshot operation of VM " + vmId, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM vms WHERE id = ?")) {
                ps.setString(1, vmId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new VmNotFoundException(vmId);
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT OR REPLACE INTO vm_snapshot_intents (" + COLUMNS
                    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, vmId);
                ps.setString(2, intent.operation().name());
                ps.setString(3, s.name());
                ps.setString(4, s.parent().orElse(null));
                ps.setLong(5, VmRows.epochNanos(s.takenAt(), vmId, "snapshot takenAt"));
                ps.setInt(6, s.withMemory() ? 1 : 0);
                ps.setInt(7, s.current() ? 1 : 0);
                ps.setString(8, s.takenWhile().name());
                ps.setLong(9, VmRows.epochNanos(intent.startedAt(), vmId, "snapshot operation startedAt"));
                ps.executeUpdate();
            }
            return null;
        });
    }

    List<SnapshotIntent> all() {
        try (Connection c = reads.connection();
             PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM vm_snapshot_intents ORDER BY vm_id")) {
            List<SnapshotIntent> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(new SnapshotIntent(rs.getString(1), SnapshotIntent.Operation.valueOf(rs.getString(2)),
                            new Snapshot(rs.getString(3), Optional.ofNullable(rs.getString(4)),
                                    VmRows.instant(rs.getLong(5)), rs.getInt(6) != 0, rs.getInt(7) != 0,
                                    VmStatus.valueOf(rs.getString(8))),
                            VmRows.instant(rs.getLong(9))));
                }
            }
            return List.copyOf(result);
        } catch (SQLException e) {
            throw new StoreException(where + ": reading the snapshot journal failed (" + e.getMessage() + ")", e);
        }
    }

    void clear(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        writes.inTransaction("clearing the snapshot journal of VM " + vmId, c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM vm_snapshot_intents WHERE vm_id = ?")) {
                ps.setString(1, vmId);
                ps.executeUpdate();
            }
            return null;
        });
    }
}
