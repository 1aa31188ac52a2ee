package io.horcrux.store;

import io.horcrux.StoreException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The schema's history: SQL scripts under {@code migrations/}, applied in order inside one
 * transaction and recorded in {@code PRAGMA user_version}. A script, once released, never
 * changes; a new schema is a new script at the end of {@link #SCRIPTS}.
 */
final class Migrations {
    private static final Logger log = LoggerFactory.getLogger(SqliteVmStore.class);

    /** Script {@code i} takes the schema from version {@code i} to {@code i + 1}. */
    static final List<String> SCRIPTS = List.of("V1__inventory.sql", "V2__runtime_forwards.sql", "V3__owner.sql",
            "V4__snapshots.sql", "V5__linked_clones.sql", "V6__snapshot_journal.sql");

    /** The schema version this code writes and reads. */
    static final int LATEST = SCRIPTS.size();

    private Migrations() {
    }

    static int userVersion(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("PRAGMA user_version")) {
            return rs.next() ? rs.getInt(1) : 0;
        }
    }

    /** Fails, changing nothing, when the database was written by a newer Horcrux. */
    static void checkNotNewer(int found, String where) {
        if (found > LATEST) {
            throw new StoreException(where + ": schema version " + found + " was written by a newer Horcrux; this"
                    + " version reads schema versions up to " + LATEST + ". The file was not changed");
        }
    }

    /**
     * Brings the schema to {@link #LATEST} on the writer connection (auto-commit mode), all
     * scripts in one immediate transaction.
     */
    static void migrate(Connection writer, String where) throws SQLException {
        try (Statement s = writer.createStatement()) {
            s.execute("BEGIN IMMEDIATE");
            try {
                int from = userVersion(writer);
                checkNotNewer(from, where);
                for (int v = from; v < LATEST; v++) {
                    for (String sql : statements(SCRIPTS.get(v))) {
                        s.execute(sql);
                    }
                }
                if (from < LATEST) {
                    // A pragma takes no parameters; LATEST is a compile-time constant.
                    s.execute("PRAGMA user_version = " + LATEST);
                }
                s.execute("COMMIT");
                if (from < LATEST) {
                    log.info("{}: schema migrated from version {} to {}", where, from, LATEST);
                }
            } catch (SQLException | RuntimeException e) {
                try {
                    s.execute("ROLLBACK");
                } catch (SQLException rollback) {
                    e.addSuppressed(rollback);
                }
                throw e;
            }
        }
    }

    /** The statements of a script: split at semicolons that end a line; comment lines dropped. */
    static List<String> statements(String script) {
        String text;
        try (InputStream in = Migrations.class.getResourceAsStream("migrations/" + script)) {
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
            current.append(line).append('\n');
            if (trimmed.endsWith(";")) {
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
