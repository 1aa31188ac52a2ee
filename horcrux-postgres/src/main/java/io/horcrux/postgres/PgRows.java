package io.horcrux.postgres;

import io.horcrux.StoreException;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.HostLease;
import io.horcrux.spi.VmCodec;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The mapping between {@link Vm} and the {@code vms} / {@code vm_labels} rows of one schema, and
 * the SQL of every statement. Values are always bound as parameters; the only text that varies
 * is the schema's name, validated and quoted once ({@link PgSchema#quote}), and the number of
 * label filters of a query.
 */
final class PgRows {
    static final String COLUMNS =
            "id, name, status, version, created_at, updated_at, status_reason, runtime_pid, runtime_monitor, spec_json,"
            + " runtime_forwards, owner";

    final String insert;
    final String insertLabel;
    final String deleteLabels;
    final String update;
    /**
     * The common update: the spec (and so name and labels) is unchanged, only the status, its
     * facts and the version move. It matches no row when the spec changed, and the caller then
     * falls back to {@link #update} with the labels.
     */
    final String updateState;
    final String delete;
    final String versionOf;
    final String find;
    final String existingIds;
    /** The VMs of one host, locked for a takeover. */
    final String ownedForUpdate;
    /** A host's epoch and whether its lease is live now. */
    final String leaseState;
    private final String vms;
    private final String labels;
    /** The schema's name, quoted. */
    final String schema;

    /** @param schema the schema's name, already quoted */
    PgRows(String schema) {
        this.schema = schema;
        vms = schema + ".vms";
        labels = schema + ".vm_labels";
        insert = "INSERT INTO " + vms + " (id, name, status, version, created_at, updated_at, status_reason, runtime_pid,"
                + " runtime_monitor, runtime_forwards, owner, written_by, written_epoch, spec_json)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        insertLabel = "INSERT INTO " + labels + " (vm_id, key, value) VALUES (?, ?, ?)";
        deleteLabels = "DELETE FROM " + labels + " WHERE vm_id = ?";
        update = "UPDATE " + vms + " SET name = ?, status = ?, version = ?, created_at = ?, updated_at = ?,"
                + " status_reason = ?, runtime_pid = ?, runtime_monitor = ?, runtime_forwards = ?, owner = ?,"
                + " written_by = ?, written_epoch = ?, spec_json = ? WHERE id = ? AND version = ?";
        updateState = "UPDATE " + vms + " SET status = ?, version = ?, created_at = ?, updated_at = ?,"
                + " status_reason = ?, runtime_pid = ?, runtime_monitor = ?, runtime_forwards = ?, owner = ?,"
                + " written_by = ?, written_epoch = ? WHERE id = ? AND version = ? AND spec_json = ?";
        // A delete leaves no row for a trigger to check its token on: the WHERE checks it, against
        // the lease row, in the same statement. A NULL token (a single-host store) passes.
        delete = "DELETE FROM " + vms + " WHERE id = ? AND version = ? AND (?::text IS NULL OR EXISTS (SELECT 1 FROM "
                + schema + ".hosts h WHERE h.host = ?::text AND h.epoch = ? AND h.expires_at > clock_timestamp()"
                + " AND (owner = h.host OR status IN ('STOPPED', 'CRASHED'))))";
        versionOf = "SELECT version FROM " + vms + " WHERE id = ?";
        find = "SELECT " + COLUMNS + " FROM " + vms + " WHERE id = ?";
        existingIds = "SELECT id FROM " + vms + " WHERE id = ANY (?)";
        ownedForUpdate = "SELECT " + COLUMNS + " FROM " + vms + " WHERE owner = ? ORDER BY id FOR UPDATE";
        leaseState = "SELECT epoch, (NOT released AND expires_at > clock_timestamp()) FROM " + schema + ".hosts WHERE host = ?";
    }

    /** Binds the fourteen columns of {@link #insert}. */
    static void bindInsert(PreparedStatement ps, Vm vm, HostLease token) throws SQLException {
        ps.setString(1, vm.id());
        bindScalars(ps, 2, vm, token);
    }

    /** Binds {@link #update}: the new values, then id and expected version. */
    static void bindUpdate(PreparedStatement ps, Vm vm, long expectedVersion, HostLease token) throws SQLException {
        int next = bindScalars(ps, 1, vm, token);
        ps.setString(next, vm.id());
        ps.setLong(next + 1, expectedVersion);
    }

    /** Binds {@link #updateState}; {@code specJson} is the spec the stored row must already hold. */
    static void bindUpdateState(PreparedStatement ps, Vm vm, long expectedVersion, String specJson, HostLease token)
            throws SQLException {
        int next = bindState(ps, 1, vm, token);
        ps.setString(next++, vm.id());
        ps.setLong(next++, expectedVersion);
        ps.setString(next, specJson);
    }

    private static int bindScalars(PreparedStatement ps, int index, Vm vm, HostLease token) throws SQLException {
        ps.setString(index, vm.spec().name());
        int i = bindState(ps, index + 1, vm, token);
        ps.setString(i++, specJson(vm.spec()));
        return i;
    }

    /** The {@code runtime_forwards} column: null without forwards, else {@link VmCodec#encodeForwards}'s JSON. */
    private static void bindForwards(PreparedStatement ps, int index, Vm vm) throws SQLException {
        if (vm.runtime() == null || vm.runtime().forwards().isEmpty()) {
            ps.setNull(index, Types.VARCHAR);
        } else {
            ps.setString(index, VmCodec.encodeForwards(vm.runtime().forwards()));
        }
    }

    /**
     * Binds status .. runtime_monitor, runtime_forwards, then owner and the writer's fencing token
     * (NULLs for none).
     */
    private static int bindState(PreparedStatement ps, int index, Vm vm, HostLease token) throws SQLException {
        int i = index;
        ps.setString(i++, vm.status().name());
        ps.setLong(i++, vm.version());
        ps.setLong(i++, epochNanos(vm.createdAt(), vm.id(), "createdAt"));
        ps.setLong(i++, epochNanos(vm.updatedAt(), vm.id(), "updatedAt"));
        ps.setString(i++, vm.statusReason());
        if (vm.runtime() == null) {
            ps.setNull(i++, Types.BIGINT);
            ps.setNull(i++, Types.VARCHAR);
        } else {
            ps.setLong(i++, vm.runtime().pid());
            ps.setString(i++, vm.runtime().monitor());
        }
        bindForwards(ps, i++, vm);
        ps.setString(i++, vm.owner());
        if (token == null) {
            ps.setNull(i++, Types.VARCHAR);
            ps.setNull(i++, Types.BIGINT);
        } else {
            ps.setString(i++, token.host());
            ps.setLong(i++, token.epoch());
        }
        return i;
    }

    /** Adds one batch entry per label of the VM to {@link #insertLabel}. */
    static void addLabels(PreparedStatement ps, Vm vm) throws SQLException {
        for (Map.Entry<String, String> label : vm.spec().labels().entrySet()) {
            ps.setString(1, vm.id());
            ps.setString(2, label.getKey());
            ps.setString(3, label.getValue());
            ps.addBatch();
        }
    }

    /** The VM of the current row of a result set selecting {@link #COLUMNS}. */
    static Vm read(ResultSet rs) throws SQLException {
        String id = rs.getString(1);
        try {
            VmSpec spec = VmCodec.decodeSpec(rs.getString(10).getBytes(StandardCharsets.UTF_8));
            long pid = rs.getLong(8);
            VmRuntime runtime = null;
            if (!rs.wasNull()) {
                String forwards = rs.getString(11);
                runtime = new VmRuntime(pid, rs.getString(9), forwards == null ? List.of() : VmCodec.decodeForwards(forwards));
            }
            return new Vm(spec, VmStatus.valueOf(rs.getString(3)), rs.getLong(4), instant(rs.getLong(5)),
                    instant(rs.getLong(6)), rs.getString(7), runtime, rs.getString(12));
        } catch (StoreException | IllegalArgumentException | NullPointerException e) {
            throw new StoreException("VM " + id + ": the stored row cannot be read (" + e.getMessage() + ")", e);
        }
    }

    /** The {@code spec_json} column: {@link VmCodec}'s bytes, kept as text. */
    static String specJson(VmSpec spec) {
        return new String(VmCodec.encodeSpec(spec), StandardCharsets.UTF_8);
    }

    /** Binds the ids of {@link #existingIds} as one {@code text[]} parameter. */
    static void bindIds(Connection c, PreparedStatement ps, List<String> ids) throws SQLException {
        ps.setArray(1, c.createArrayOf("text", ids.toArray()));
    }

    static long epochNanos(Instant t, String vmId, String field) {
        try {
            return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("VM " + vmId + ": " + field + " " + t
                    + " is outside what the store keeps (years 1678 to 2262)", e);
        }
    }

    static Instant instant(long epochNanos) {
        return Instant.ofEpochSecond(Math.floorDiv(epochNanos, 1_000_000_000L), Math.floorMod(epochNanos, 1_000_000_000L));
    }

    /** A query's SQL and its parameters, in order: strings, ints, or a text array as {@code String[]}. */
    record Select(String sql, List<Object> parameters) {
        void bind(Connection c, PreparedStatement ps) throws SQLException {
            for (int i = 0; i < parameters.size(); i++) {
                Object p = parameters.get(i);
                if (p instanceof Integer n) {
                    ps.setInt(i + 1, n);
                } else if (p instanceof String[] texts) {
                    ps.setArray(i + 1, c.createArrayOf("text", texts));
                } else {
                    ps.setString(i + 1, (String) p);
                }
            }
        }
    }

    /**
     * The keyset query for {@code query}: filters, {@code id > ?} for the cursor, id order and
     * at most {@code limit} rows (none when {@code limit} is 0).
     */
    Select select(VmQuery query, int limit) {
        return select(COLUMNS, query, limit, true);
    }

    /** How many rows match the query's filters (its cursor and limit ignored). */
    Select count(VmQuery query) {
        return select("count(*)", query.withoutPaging(), 0, false);
    }

    private Select select(String projection, VmQuery query, int limit, boolean ordered) {
        StringBuilder sql = new StringBuilder("SELECT ").append(projection).append(" FROM ").append(vms);
        List<Object> params = new ArrayList<>();
        String glue = " WHERE ";
        if (!query.statuses().isEmpty()) {
            // One statement shape for any set of statuses.
            sql.append(glue).append("status = ANY (?)");
            params.add(query.statuses().stream().map(VmStatus::name).toArray(String[]::new));
            glue = " AND ";
        }
        for (Map.Entry<String, String> label : query.labels().entrySet()) {
            sql.append(glue).append("id IN (SELECT vm_id FROM ").append(labels).append(" WHERE key = ? AND value = ?)");
            params.add(label.getKey());
            params.add(label.getValue());
            glue = " AND ";
        }
        if (query.after().isPresent()) {
            sql.append(glue).append("id > ?");
            params.add(query.after().get());
        }
        if (ordered) {
            sql.append(" ORDER BY id");
        }
        if (limit > 0) {
            sql.append(" LIMIT ?");
            params.add(limit);
        }
        return new Select(sql.toString(), List.copyOf(params));
    }
}
