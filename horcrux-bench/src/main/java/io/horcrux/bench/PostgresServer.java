package io.horcrux.bench;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;

/**
 * A database and role of their own on the PostgreSQL server the tests use, dropped at the end:
 * reached through {@code HORCRUX_PG_ADMIN_URL} (default
 * {@code jdbc:postgresql://127.0.0.1:5432/postgres}), {@code HORCRUX_PG_ADMIN_USER} (default
 * {@code postgres}) and {@code HORCRUX_PG_ADMIN_PASSWORD} (default {@code horcrux}), system
 * properties or environment variables; {@code scripts/setup-debian} starts such a server.
 */
final class PostgresServer implements AutoCloseable {
    private static final String ADMIN_URL = setting("HORCRUX_PG_ADMIN_URL", "jdbc:postgresql://127.0.0.1:5432/postgres");
    private static final String ADMIN_USER = setting("HORCRUX_PG_ADMIN_USER", "postgres");
    private static final String ADMIN_PASSWORD = setting("HORCRUX_PG_ADMIN_PASSWORD", "horcrux");

    final String name;
    final String password;
    final String jdbcUrl;

    private PostgresServer(String name, String password) {
        this.name = name;
        this.password = password;
        this.jdbcUrl = ADMIN_URL.replaceFirst("/[^/?]*(\\?.*)?$", "/" + name) + "?reWriteBatchedInserts=true";
    }

    private static String setting(String name, String fallback) {
        String value = System.getProperty(name);
        if (value == null || value.isEmpty()) {
            value = System.getenv(name);
        }
        return value == null || value.isEmpty() ? fallback : value;
    }

    /** Creates a role and a database owned by it, with a random suffix. */
    static PostgresServer createDatabase() {
        SecureRandom rng = new SecureRandom();
        byte[] suffix = new byte[6];
        rng.nextBytes(suffix);
        byte[] secret = new byte[12];
        rng.nextBytes(secret);
        PostgresServer db = new PostgresServer("horcrux_bench_" + HexFormat.of().formatHex(suffix),
                HexFormat.of().formatHex(secret));
        try (Connection c = admin(); Statement s = c.createStatement()) {
            // Generated names and a hex password only.
            s.execute("CREATE ROLE " + db.name + " LOGIN PASSWORD '" + db.password + "'");
            s.execute("CREATE DATABASE " + db.name + " OWNER " + db.name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create the benchmark's database: " + e.getMessage(), e);
        }
        return db;
    }

    Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl, name, password);
    }

    private static Connection admin() throws SQLException {
        try {
            return DriverManager.getConnection(ADMIN_URL, ADMIN_USER, ADMIN_PASSWORD);
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL is not reachable at " + ADMIN_URL + " as " + ADMIN_USER + " ("
                    + e.getMessage() + "): run scripts/setup-debian, or set HORCRUX_PG_ADMIN_URL,"
                    + " HORCRUX_PG_ADMIN_USER and HORCRUX_PG_ADMIN_PASSWORD", e);
        }
    }

    /** Drops the database (ending its sessions) and the role. */
    @Override
    public void close() {
        try (Connection c = admin(); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            s.execute("DROP ROLE IF EXISTS " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot drop the benchmark's database " + name + ": " + e.getMessage(), e);
        }
    }
}
