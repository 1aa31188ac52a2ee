package io.horcrux.postgres;

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

/**
 * The {@code vm_snapshot_intents} table of one schema: the snapshot operations begun and not yet
 * finished, at most one per VM. A write first locks the VM's row, as the snapshot writes do.
 */
final class PgSnapshotJournal {
    private static final String COLUMNS =
            "vm_id, operation, name, parent, taken_at, with_memory, is_current, taken_while, started_at";

    private final Connections connections;
    private final String where;
    private final Runnable ensureOpen;
    private final Runnable ensureWritable;
    private final String vms;
    private final String table;

    /** @param schema the schema's name, already quoted */
    PgSnapshotJournal(Connections connections, String schema, String where, Runnable ensureOpen, Runnable ensureWritable) {
        this.connections = connections;
        this.where = where;
        this.ensureOpen = ensureOpen;
        this.ensureWritable = ensureWritable;
        this.vms = schema + ".vms";
        this.table = schema + ".vm_snapshot_intents";
    }

    void record(SnapshotIntent intent) {
        Objects.requireNonNull(intent, "intent");
        String vmId = intent.vmId();
        Snapshot s = intent.snapshot();
        inTransaction("journalling a snapshot operation of VM " + vmId, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + vms + " WHERE id = ? FOR UPDATE")) {
                ps.setString(1, vmId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new VmNotFoundException(vmId);
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (" + COLUMNS
                    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (vm_id) DO UPDATE SET operation = excluded.operation,"
                    + " name = excluded.name, parent = excluded.parent, taken_at = excluded.taken_at,"
                    + " with_memory = excluded.with_memory, is_current = excluded.is_current,"
                    + " taken_while = excluded.taken_while, started_at = excluded.started_at")) {
                ps.setString(1, vmId);
                ps.setString(2, intent.operation().name());
                ps.setString(3, s.name());
                ps.setString(4, s.parent().orElse(null));
                ps.setLong(5, PgRows.epochNanos(s.takenAt(), vmId, "snapshot takenAt"));
                ps.setBoolean(6, s.withMemory());
                ps.setBoolean(7, s.current());
                ps.setString(8, s.takenWhile().name());
                ps.setLong(9, PgRows.epochNanos(intent.startedAt(), vmId, "snapshot operation startedAt"));
                ps.executeUpdate();
            }
            return null;
        });
    }

    List<SnapshotIntent> all() {
        ensureOpen.run();
        try (Connection c = connections.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + table + " ORDER BY vm_id")) {
            List<SnapshotIntent> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(new SnapshotIntent(rs.getString(1), SnapshotIntent.Operation.valueOf(rs.getString(2)),
                            new Snapshot(rs.getString(3), Optional.ofNullable(rs.getString(4)),
                                    PgRows.instant(rs.getLong(5)), rs.getBoolean(6), rs.getBoolean(7),
                                    VmStatus.valueOf(rs.getString(8))),
                            PgRows.instant(rs.getLong(9))));
                }
            }
            return List.copyOf(result);
        } catch (SQLException e) {
            throw new StoreException(where + ": reading the snapshot journal failed (" + e.getMessage() + ")", e);
        }
    }

    void clear(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        inTransaction("clearing the snapshot journal of VM " + vmId, c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE vm_id = ?")) {
                ps.setString(1, vmId);
                ps.executeUpdate();
            }
            return null;
        });
    }

    private void inTransaction(String operation, PgSnapshots.Work<Void> work) {
        ensureWritable.run();
        try (Connection c = connections.getConnection()) {
            PgWriter.inTransaction(c, () -> work.run(c));
        } catch (SQLException e) {
            throw new StoreException(where + ": " + operation + " failed (" + e.getMessage() + ")", e);
        }
    }
}
