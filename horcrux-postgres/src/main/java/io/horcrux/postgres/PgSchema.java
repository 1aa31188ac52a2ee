package io.horcrux.postgres;

import io.horcrux.StoreException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The schema's history: SQL scripts under {@code migrations/}, applied in order inside one
 * transaction and recorded in the one row of {@code horcrux_schema}. A script, once released,
 * never changes; a new schema is a new script at the end of {@link #SCRIPTS}.
 *
 * <p>Before it writes anything, it checks that the schema is Horcrux's: tables named like ours
 * without our version table are someone else's, and a version above {@link #LATEST} is a newer
 * Horcrux's. Both are refused, the database unchanged.
 */
final class PgSchema {
    private static final Logger log = LoggerFactory.getLogger(PostgresVmStore.class);

    /** What a schema name may be: an unquoted PostgreSQL identifier in lower case. */
    static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

    /** Script {@code i} takes the schema from version {@code i} to {@code i + 1}. */
    static final List<String> SCRIPTS = List.of("V1__inventory.sql", "V2__runtime_forwards.sql", "V3__hosts.sql",
            "V4__snapshots.sql", "V5__event_owners.sql", "V6__linked_clones.sql", "V7__snapshot_journal.sql");

    /** The schema version this code writes and reads. */
    static final int LATEST = SCRIPTS.size();

    /** The tables the scripts create: if any exists, the version table must too. */
    static final List<String> TABLES = List.of("vms", "vm_labels", "hosts", "vm_snapshots", "vm_snapshot_intents");

    static final String VERSION_TABLE = "horcrux_schema";

    private PgSchema() {
    }

    /** The name as SQL text: checked against {@link #NAME}, then double-quoted. */
    static String quote(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("schema '" + name + "' must match " + NAME);
        }
        return '"' + name + '"';
    }

    /**
     * Brings the schema to {@link #LATEST}, creating it if missing, all in one transaction on
     * {@code c} (left in auto-commit mode after). The caller holds the inventory's lock.
     *
     * @return the version found (0 for a new schema)
     */
    static int migrate(Connection c, String schema, String where) throws SQLException {
        c.setAutoCommit(false);
        try {
            // Stores shared by hosts open side by side: one migrates at a time, the others then find it done.
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?, ?)")) {
                ps.setInt(1, InventoryLock.CLASS + 1);
                ps.setInt(2, schema.hashCode());
                ps.executeQuery().close();
            }
            int from = check(c, schema, where);
            String quoted = quote(schema);
            if (from < LATEST) {
                try (Statement s = c.createStatement()) {
                    if (from == 0) {
                        if (!exists(c, "SELECT 1 FROM pg_namespace WHERE nspname = ?", schema)) {
                            s.execute("CREATE SCHEMA " + quoted);
                        }
                        s.execute("CREATE TABLE " + quoted + "." + VERSION_TABLE + " (version integer NOT NULL,"
                                + " migrated_at timestamptz NOT NULL DEFAULT now(), one boolean PRIMARY KEY DEFAULT true"
                                + " CHECK (one))");
                        s.execute("COMMENT ON TABLE " + quoted + "." + VERSION_TABLE
                                + " IS 'Horcrux inventory schema version'");
                        s.execute("INSERT INTO " + quoted + "." + VERSION_TABLE + " (version) VALUES (0)");
                    }
                    for (int v = from; v < LATEST; v++) {
                        for (String sql : statements(SCRIPTS.get(v), quoted)) {
                            s.execute(sql);
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("UPDATE " + quoted + "." + VERSION_TABLE
                        + " SET version = ?, migrated_at = now()")) {
                    ps.setInt(1, LATEST);
                    ps.executeUpdate();
                }
            }
            c.commit();
            if (from < LATEST) {
                log.info("{}: schema migrated from version {} to {}", where, from, LATEST);
            }
            return from;
        } catch (SQLException | RuntimeException e) {
            try {
                c.rollback();
            } catch (SQLException rollback) {
                e.addSuppressed(rollback);
            }
            throw e;
        } finally {
            c.setAutoCommit(true);
        }
    }

    /** The version found, after refusing a schema that is not ours or is newer; reads only. */
    private static int check(Connection c, String schema, String where) throws SQLException {
        boolean versioned = tableExists(c, schema, VERSION_TABLE);
        if (!versioned) {
            List<String> foreign = new ArrayList<>();
            for (String table : TABLES) {
                if (tableExists(c, schema, table)) {
                    foreign.add(schema + "." + table);
                }
            }
            if (!foreign.isEmpty()) {
                throw new StoreException(where + ": the database already has " + String.join(" and ", foreign)
                        + " but no " + schema + "." + VERSION_TABLE + ": those tables are not a Horcrux inventory."
                        + " Use another schema (builder().schema(...)) or another database. Nothing was changed");
            }
            return 0;
        }
        int found;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM " + quote(schema) + "." + VERSION_TABLE)) {
            if (!rs.next()) {
                throw notOurs(where, schema, "it has no row");
            }
            found = rs.getInt(1);
            if (rs.wasNull() || rs.next()) {
                throw notOurs(where, schema, "it does not hold one version");
            }
        } catch (SQLException e) {
            // Not our table's shape: undo the failed statement's transaction state and say so.
            c.rollback();
            throw notOurs(where, schema, e.getMessage());
        }
        if (found > LATEST) {
            throw new StoreException(where + ": schema version " + found + " was written by a newer Horcrux; this"
                    + " version reads schema versions up to " + LATEST + ". Nothing was changed");
        }
        if (found < 1 && tableExists(c, schema, "vms")) {
            throw notOurs(where, schema, "version " + found + " beside a vms table");
        }
        return found;
    }

    private static StoreException notOurs(String where, String schema, String why) {
        return new StoreException(where + ": " + schema + "." + VERSION_TABLE + " is not a Horcrux schema version"
                + " table (" + why + "). Nothing was changed");
    }

    private static boolean tableExists(Connection c, String schema, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT 1 FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace"
                        + " WHERE n.nspname = ? AND r.relname = ?")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static boolean exists(Connection c, String sql, String parameter) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, parameter);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * The statements of a script, {@code ${schema}} replaced by the quoted schema: split at
     * semicolons that end a line, except inside a {@code $$}-quoted body; comment lines dropped.
     */
    static List<String> statements(String script, String quotedSchema) {
        String text;
        try (InputStream in = PgSchema.class.getResourceAsStream("migrations/" + script)) {
            if (in == null) {
                throw new IllegalStateException("missing schema script migrations/" + script);
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read schema script migrations/" + script, e);
        }
        List<String> result = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("--")) {
                continue;
            }
            current.append(line.replace("${schema}", quotedSchema)).append('\n');
            if (trimmed.endsWith(";") && current.toString().split("\\$\\$", -1).length % 2 == 1) {
                result.add(current.toString().strip());
                current.setLength(0);
            }
        }
        if (!current.toString().isBlank()) {
            result.add(current.toString().strip());
        }
        return result;
    }
}
