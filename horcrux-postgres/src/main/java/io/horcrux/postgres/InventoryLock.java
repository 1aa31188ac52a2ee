package io.horcrux.postgres;

import io.horcrux.StoreException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The claim of one store on its inventory (a schema of a database): a session-level advisory
 * lock, {@code pg_try_advisory_lock(CLASS, hash of the schema's name)}, held by a connection of
 * its own for the store's lifetime. PostgreSQL releases it when that session ends, by a close,
 * a crash or a kill of the JVM, so a dead store never leaves its inventory locked. The
 * session's {@code application_name} names the holder (pid and host), for the error of the
 * next store that tries. If the session is lost while the store is open (the server restarted,
 * the network cut it), so is the lock.
 */
final class InventoryLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PostgresVmStore.class);
    /** The lock's first key: "HCRX", the same for every Horcrux inventory. */
    static final int CLASS = 0x48435258;
    /** The first key of a host's lock, "HCRH": one store per host of a shared inventory. */
    static final int HOST_CLASS = 0x48435248;

    private final Connection connection;
    private final int key;
    private final boolean shared;
    private String host; // the host this store serves on a shared inventory, once claimed

    private InventoryLock(Connection connection, int key, boolean shared) {
        this.connection = connection;
        this.key = key;
        this.shared = shared;
    }

    /**
     * Takes the lock on {@code connection}, which it keeps; closes it when the lock is held by
     * another session.
     *
     * @throws StoreException naming the holder if another store holds the inventory
     */
    static InventoryLock acquire(Connection connection, String schema, String where) throws SQLException {
        return acquire(connection, schema, where, false);
    }

    /**
     * Takes the lock, exclusive for a store that serves its inventory alone, shared for one of
     * several hosts' stores: a store of either kind keeps out those of the other.
     */
    static InventoryLock acquire(Connection connection, String schema, String where, boolean shared) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT set_config('application_name', ?, false)")) {
            ps.setString(1, holderName());
            ps.executeQuery().close();
        }
        boolean taken;
        try (PreparedStatement ps = connection.prepareStatement(shared
                ? "SELECT pg_try_advisory_lock_shared(?, ?)" : "SELECT pg_try_advisory_lock(?, ?)")) {
            ps.setInt(1, CLASS);
            ps.setInt(2, schema.hashCode());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                taken = rs.getBoolean(1);
            }
        }
        if (!taken) {
            String holder = holder(connection, schema);
            close(connection);
            throw new StoreException(where + ": the inventory is in use by another PostgresVmStore (" + holder
                    + "); " + (shared ? "it serves the inventory alone (not shared by hosts)"
                    : "one store per inventory, unless opened shared by several hosts") + ". Close it, or use another schema");
        }
        return new InventoryLock(connection, schema.hashCode(), shared);
    }

    /**
     * Claims {@code host} for this store: a session-level advisory lock on (HOST_CLASS, hash of
     * schema and host), so that one store at a time serves a host.
     *
     * @throws StoreException naming the holder if another store serves that host
     */
    synchronized void claimHost(String host, String where) {
        if (host.equals(this.host)) {
            return;
        }
        if (this.host != null) {
            throw new IllegalStateException(where + ": this store serves host " + this.host + ", not " + host);
        }
        try (PreparedStatement ps = connection.prepareStatement("SELECT pg_try_advisory_lock(?, ?)")) {
            ps.setInt(1, HOST_CLASS);
            ps.setInt(2, hostKey(host));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new StoreException(where + ": host " + host + " is served by another open store; one store"
                            + " (one manager) per host at a time. Close it, or name this host differently");
                }
            }
            this.host = host;
        } catch (SQLException e) {
            throw new StoreException(where + ": cannot claim host " + host + " (" + e.getMessage() + ")", e);
        }
    }

    /** Lets go of the host this store served, if any, so that another store may serve it. */
    synchronized void releaseHost() {
        if (host == null) {
            return;
        }
        try (PreparedStatement ps = connection.prepareStatement("SELECT pg_advisory_unlock(?, ?)")) {
            ps.setInt(1, HOST_CLASS);
            ps.setInt(2, hostKey(host));
            ps.executeQuery().close();
        } catch (SQLException e) {
            log.debug("releasing the host lock failed (a lost session has released it already)", e);
        }
        host = null;
    }

    private int hostKey(String host) {
        return (key * 31) ^ host.hashCode();
    }

    /** The connection that holds the lock; the store uses it to migrate the schema. */
    Connection connection() {
        return connection;
    }

    private static String holderName() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "unknown host";
        }
        String name = "horcrux store, pid " + ProcessHandle.current().pid() + " on " + host;
        return name.length() > 63 ? name.substring(0, 63) : name; // PostgreSQL's limit (NAMEDATALEN - 1)
    }

    private static String holder(Connection c, String schema) {
        try (PreparedStatement ps = c.prepareStatement("SELECT a.application_name, a.pid, a.usename, a.client_addr"
                + " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                + " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ?::oid AND l.objid = ?::oid"
                + " AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")) {
            ps.setLong(1, CLASS & 0xffffffffL);
            ps.setLong(2, schema.hashCode() & 0xffffffffL);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return "a session that has just let go; try again";
                }
                return "held by '" + rs.getString(1) + "', PostgreSQL backend pid " + rs.getInt(2) + ", role "
                        + rs.getString(3) + (rs.getString(4) == null ? "" : " from " + rs.getString(4));
            }
        } catch (SQLException e) {
            return "holder unknown: " + e.getMessage();
        }
    }

    /** Whether the lock's session is still alive; a lost session means a lost lock. */
    boolean isValid() {
        try {
            return connection.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * Releases the lock, then closes the connection. Unlocking first matters when the
     * connection came from the application's pool: closing it only returns it there, and the
     * session, with its lock, would live on.
     */
    @Override
    public void close() {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT pg_advisory_unlock(?, ?), set_config('application_name', '', false)")) {
            ps.setInt(1, CLASS);
            ps.setInt(2, key);
            ps.executeQuery().close();
        } catch (SQLException e) {
            log.debug("releasing the inventory lock failed (a lost session has released it already)", e);
        }
        close(connection);
    }

    private static void close(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            log.debug("closing the inventory lock's connection failed", e);
        }
    }
}
