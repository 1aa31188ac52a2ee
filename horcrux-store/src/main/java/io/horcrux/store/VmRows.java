package io.horcrux.store;

import io.horcrux.StoreException;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.internal.SharedText;
import io.horcrux.spi.VmCodec;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The mapping between {@link Vm} and the {@code vms} / {@code vm_labels} rows, and the SQL
 * of queries. Values are always bound as parameters; only the number of placeholders
 * varies with the query's shape.
 */
final class VmRows {
    static final String COLUMNS =
            "id, name, status, version, created_at, updated_at, status_reason, runtime_pid, runtime_monitor, spec_json,"
            + " runtime_forwards, owner";

    static final String INSERT = "INSERT INTO vms (id, name, status, version, created_at, updated_at, status_reason,"
            + " runtime_pid, runtime_monitor, runtime_forwards, owner, spec_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    static final String INSERT_LABEL = "INSERT INTO vm_labels (vm_id, key, value) VALUES (?, ?, ?)";
    static final String DELETE_LABELS = "DELETE FROM vm_labels WHERE vm_id = ?";
    static final String UPDATE = "UPDATE vms SET name = ?, status = ?, version = ?, created_at = ?, updated_at = ?,"
            + " status_reason = ?, runtime_pid = ?, runtime_monitor = ?, runtime_forwards = ?, owner = ?, spec_json = ?"
            + " WHERE id = ? AND version = ?";
    /**
     * The common update: the spec (and so name and labels) is unchanged, only the status, its
     * facts and the version move. It matches no row when the spec changed, and the caller then
     * falls back to {@link #UPDATE} with the labels.
     */
    static final String UPDATE_STATE = "UPDATE vms SET status = ?, version = ?, created_at = ?, updated_at = ?,"
            + " status_reason = ?, runtime_pid = ?, runtime_monitor = ?, runtime_forwards = ?, owner = ?"
            + " WHERE id = ? AND version = ? AND spec_json = ?";
    static final String DELETE = "DELETE FROM vms WHERE id = ? AND version = ?";
    static final String VERSION_OF = "SELECT version FROM vms WHERE id = ?";
    /**
     * What a read selects, in the order {@link #read} takes them: not the name, which is in the
     * spec, and the id last, read only to name a row that cannot be read.
     */
    static final String READ_COLUMNS =
            "spec_json, status, version, created_at, updated_at, status_reason, runtime_pid, runtime_monitor, id,"
            + " runtime_forwards, owner";
    static final String FIND = "SELECT " + READ_COLUMNS + " FROM vms WHERE id = ?";

    private VmRows() {
    }

    /** Binds the twelve columns of {@link #INSERT}. */
    static void bindInsert(PreparedStatement ps, Vm vm) throws SQLException {
        ps.setString(1, vm.id());
        bindScalars(ps, 2, vm);
    }

    /** Binds {@link #UPDATE}: the new values, then id and expected version. */
    static void bindUpdate(PreparedStatement ps, Vm vm, long expectedVersion) throws SQLException {
        int next = bindScalars(ps, 1, vm);
        ps.setString(next, vm.id());
        ps.setLong(next + 1, expectedVersion);
    }

    /** Binds {@link #UPDATE_STATE}; {@code specJson} is the spec the stored row must already hold. */
    static void bindUpdateState(PreparedStatement ps, Vm vm, long expectedVersion, String specJson) throws SQLException {
        int next = bindState(ps, 1, vm);
        ps.setString(next++, vm.id());
        ps.setLong(next++, expectedVersion);
        ps.setString(next, specJson);
    }

    /** Binds name .. spec_json from {@code index}; returns the next free index. */
    private static int bindScalars(PreparedStatement ps, int index, Vm vm) throws SQLException {
        ps.setString(index, vm.spec().name());
        int i = bindState(ps, index + 1, vm);
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

    /** Binds status .. runtime_monitor, runtime_forwards and owner from {@code index}; returns the next free index. */
    private static int bindState(PreparedStatement ps, int index, Vm vm) throws SQLException {
        int i = index;
        ps.setString(i++, vm.status().name());
        ps.setLong(i++, vm.version());
        ps.setLong(i++, epochNanos(vm.createdAt(), vm.id(), "createdAt"));
        ps.setLong(i++, epochNanos(vm.updatedAt(), vm.id(), "updatedAt"));
        ps.setString(i++, vm.statusReason());
        if (vm.runtime() == null) {
            ps.setNull(i++, Types.INTEGER);
            ps.setNull(i++, Types.VARCHAR);
        } else {
            ps.setLong(i++, vm.runtime().pid());
            ps.setString(i++, vm.runtime().monitor());
        }
        bindForwards(ps, i++, vm);
        ps.setString(i++, vm.owner());
        return i;
    }

    /** Adds one batch entry per label of the VM to {@link #INSERT_LABEL}. */
    static void addLabels(PreparedStatement ps, Vm vm) throws SQLException {
        for (Map.Entry<String, String> label : vm.spec().labels().entrySet()) {
            ps.setString(1, vm.id());
            ps.setString(2, label.getKey());
            ps.setString(3, label.getValue());
            ps.addBatch();
        }
    }

    /**
     * The VM of the current row of a result set selecting {@link #READ_COLUMNS}; its spec
     * through {@code specs}, which decodes each distinct spec once.
     */
    static Vm read(ResultSet rs, SpecMemo specs) throws SQLException {
        try {
            VmSpec spec = specs.decode(rs.getBytes(1));
            long pid = rs.getLong(7);
            VmRuntime runtime = null;
            if (!rs.wasNull()) {
                byte[] forwards = rs.getBytes(10);
                runtime = new VmRuntime(pid, rs.getString(8),
                        forwards == null ? List.of() : VmCodec.decodeForwards(text(forwards)));
            }
            long created = rs.getLong(4);
            long updated = rs.getLong(5);
            Instant createdAt = instant(created);
            return new Vm(spec, status(rs.getBytes(2)), rs.getLong(3), createdAt,
                    updated == created ? createdAt : instant(updated), reason(rs.getBytes(6)), runtime, owner(rs.getBytes(11)));
        } catch (StoreException | IllegalArgumentException | NullPointerException e) {
            throw new StoreException("VM " + rs.getString(9) + ": the stored row cannot be read (" + e.getMessage() + ")",
                    e);
        }
    }

    /** The status reason column's text: reasons repeat from VM to VM, so shared ({@link SharedText}). */
    private static String reason(byte[] utf8) {
        return utf8 == null || utf8.length == 0 ? "" : SharedText.of(utf8);
    }

    private static final byte[] DEFAULT_OWNER = Vm.DEFAULT_HOST.getBytes(StandardCharsets.US_ASCII);

    /** The owner column's bytes as text; the usual single-host owner without a new string. */
    private static String owner(byte[] owner) {
        return owner == null || java.util.Arrays.equals(owner, DEFAULT_OWNER) ? Vm.DEFAULT_HOST : text(owner);
    }

    private static final VmStatus[] STATUSES = VmStatus.values();
    private static final byte[][] STATUS_NAMES = java.util.Arrays.stream(STATUSES)
            .map(s -> s.name().getBytes(StandardCharsets.US_ASCII)).toArray(byte[][]::new);

    /** The status column's bytes as a {@link VmStatus}, without making a string of them. */
    private static VmStatus status(byte[] name) {
        if (name != null) {
            for (int i = 0; i < STATUSES.length; i++) {
                if (java.util.Arrays.equals(STATUS_NAMES[i], name)) {
                    return STATUSES[i];
                }
            }
        }
        throw new IllegalArgumentException("unknown status '" + text(name) + "'");
    }

    /**
     * A NOT NULL text column's UTF-8 bytes as a string; the empty string shared (the driver may
     * give an empty value as no bytes at all).
     */
    private static String text(byte[] utf8) {
        return utf8 == null || utf8.length == 0 ? "" : new String(utf8, StandardCharsets.UTF_8);
    }

    /** The {@code spec_json} column: {@link VmCodec}'s bytes, kept as text. */
    static String specJson(VmSpec spec) {
        return new String(VmCodec.encodeSpec(spec), StandardCharsets.UTF_8);
    }

    /** At most this many ids go in one {@code IN} list, below every SQLite's limit of 999 variables. */
    static final int ID_CHUNK = 512;

    /**
     * {@code SELECT id FROM vms WHERE id IN (?, ...)} with {@code placeholders} parameters.
     * A chunk's size is rounded up with {@link #placeholders}, so a handful of statement
     * shapes serve every batch.
     */
    private static String existingIdsSql(int placeholders) {
        return "SELECT id FROM vms WHERE id IN (" + String.join(", ", java.util.Collections.nCopies(placeholders, "?"))
                + ")";
    }

    /** The power of two at least {@code ids}, at most {@link #ID_CHUNK}. */
    private static int placeholders(int ids) {
        int n = 1;
        while (n < ids && n < ID_CHUNK) {
            n <<= 1;
        }
        return n;
    }

    /** Binds a chunk of ids to {@link #existingIdsSql}, repeating the last to fill the placeholders. */
    private static void bindIds(PreparedStatement ps, List<String> chunk, int placeholders) throws SQLException {
        for (int i = 0; i < placeholders; i++) {
            ps.setString(i + 1, chunk.get(Math.min(i, chunk.size() - 1)));
        }
    }

    /** Where a query's statement comes from: a cache, or the connection itself. */
    @FunctionalInterface
    interface Statements {
        PreparedStatement prepare(String sql) throws SQLException;
    }

    /**
     * The stored ids among {@code distinct}, one query per {@link #ID_CHUNK} ids.
     *
     * @param closeEach whether the statements are the caller's to close (not cached)
     */
    static Set<String> existingIds(List<String> distinct, Statements statements, boolean closeEach) throws SQLException {
        Set<String> taken = new HashSet<>();
        for (int from = 0; from < distinct.size(); from += ID_CHUNK) {
            List<String> chunk = distinct.subList(from, Math.min(distinct.size(), from + ID_CHUNK));
            int placeholders = placeholders(chunk.size());
            PreparedStatement ps = statements.prepare(existingIdsSql(placeholders));
            try {
                bindIds(ps, chunk, placeholders);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        taken.add(rs.getString(1));
                    }
                }
            } finally {
                if (closeEach) {
                    ps.close();
                }
            }
        }
        return taken;
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

    /** A query's SQL and its parameters, in order. */
    record Select(String sql, List<Object> parameters) {
        void bind(PreparedStatement ps) throws SQLException {
            for (int i = 0; i < parameters.size(); i++) {
                Object p = parameters.get(i);
                if (p instanceof Integer n) {
                    ps.setInt(i + 1, n);
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
    static Select select(VmQuery query, int limit) {
        return select(READ_COLUMNS, query, limit, true);
    }

    /** How many rows match the query's filters (its cursor and limit ignored). */
    static Select count(VmQuery query) {
        return select("count(*)", query.withoutPaging(), 0, false);
    }

    private static Select select(String projection, VmQuery query, int limit, boolean ordered) {
        StringBuilder sql = new StringBuilder("SELECT ").append(projection).append(" FROM vms");
        List<Object> params = new ArrayList<>();
        String glue = " WHERE ";
        if (!query.statuses().isEmpty()) {
            sql.append(glue).append("status IN (");
            String comma = "";
            for (VmStatus status : query.statuses()) {
                sql.append(comma).append('?');
                params.add(status.name());
                comma = ", ";
            }
            sql.append(')');
            glue = " AND ";
        }
        for (Map.Entry<String, String> label : query.labels().entrySet()) {
            sql.append(glue).append("id IN (SELECT vm_id FROM vm_labels WHERE key = ? AND value = ?)");
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
