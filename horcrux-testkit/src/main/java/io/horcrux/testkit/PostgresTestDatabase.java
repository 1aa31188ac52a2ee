package io.horcrux.testkit;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A database and a role of their own for one test class, on the real PostgreSQL server that
 * the admin connection reaches, both dropped after the class. Register it as a static field:
 * {@code @RegisterExtension static final PostgresTestDatabase db = new PostgresTestDatabase();}.
 *
 * <p>The admin connection: {@code HORCRUX_PG_ADMIN_URL} (default
 * {@code jdbc:postgresql://127.0.0.1:5432/postgres}), {@code HORCRUX_PG_ADMIN_USER} (default
 * {@code postgres}) and {@code HORCRUX_PG_ADMIN_PASSWORD} (default {@code horcrux}), each a
 * system property or else an environment variable; {@code scripts/setup-debian} (through
 * {@code scripts/start-postgres}) starts a server that takes the defaults. A server that cannot
 * be reached fails the class, naming that command: these tests are never skipped.
 */
public class PostgresTestDatabase implements BeforeAllCallback, AfterAllCallback {
    public static final String ADMIN_URL = setting("HORCRUX_PG_ADMIN_URL", "jdbc:postgresql://127.0.0.1:5432/postgres");
    public static final String ADMIN_USER = setting("HORCRUX_PG_ADMIN_USER", "postgres");
    public static final String ADMIN_PASSWORD = setting("HORCRUX_PG_ADMIN_PASSWORD", "horcrux");
    private static final Pattern GENERATED = Pattern.compile("horcrux_test_[0-9a-f]{12}");

    private final AtomicInteger schemas = new AtomicInteger();
    private String name;
    private String password;

    public static String setting(String name, String fallback) {
        String value = System.getProperty(name);
        if (value == null || value.isEmpty()) {
            value = System.getenv(name);
        }
        return value == null || value.isEmpty() ? fallback : value;
    }

    /** A connection as the server's administrator; the caller closes it. */
    public static Connection admin() {
        try {
            return DriverManager.getConnection(ADMIN_URL, ADMIN_USER, ADMIN_PASSWORD);
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL is not reachable at " + ADMIN_URL + " as " + ADMIN_USER + " ("
                    + e.getMessage() + "). The tests of horcrux-postgres need a running server: run"
                    + " scripts/setup-debian (it installs and starts PostgreSQL on 127.0.0.1:5432 and sets the"
                    + " postgres role's password to the default), or point HORCRUX_PG_ADMIN_URL,"
                    + " HORCRUX_PG_ADMIN_USER and HORCRUX_PG_ADMIN_PASSWORD at a server of yours", e);
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) throws SQLException {
        byte[] random = new byte[6];
        SecureRandom rng = new SecureRandom();
        rng.nextBytes(random);
        String name = "horcrux_test_" + HexFormat.of().formatHex(random);
        byte[] secret = new byte[12];
        rng.nextBytes(secret);
        String password = HexFormat.of().formatHex(secret);
        try (Connection c = admin(); Statement s = c.createStatement()) {
            this.name = name; // from here on, afterAll drops what was made
            this.password = password;
            // Generated names and a hex password: nothing here comes from outside.
            s.execute("CREATE ROLE " + name + " LOGIN PASSWORD '" + password + "'");
            s.execute("CREATE DATABASE " + name + " OWNER " + name);
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws SQLException {
        if (name == null || !GENERATED.matcher(name).matches()) {
            return;
        }
        try (Connection c = admin(); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            s.execute("DROP ROLE IF EXISTS " + name);
        }
    }

    /** The class's database. */
    public String jdbcUrl() {
        return ADMIN_URL.replaceFirst("/[^/?]*(\\?.*)?$", "/" + name);
    }

    /** The role that owns the database (also its name). */
    public String user() {
        return name;
    }

    public String password() {
        return password;
    }

    /** A connection to the class's database as its owner; the caller closes it. */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl(), name, password);
    }

    /** A schema name no store of this class has used yet. */
    public String newSchema(String prefix) {
        return prefix + "_" + schemas.incrementAndGet();
    }
}
