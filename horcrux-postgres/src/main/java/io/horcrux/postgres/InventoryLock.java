package io.horcrux.postgres;

import io.horcrux.StoreException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The claim of one store on its inventory (a schema of a database): a session-level advisory
 * lock, {@code pg_try_advisory_lock(CLASS, hash of the schema's name)}, held by a connection of
 * its own for the store's lifetime. PostgreSQL releases it when that session ends, by a close,
 * a crash or a kill of the JVM, so a dead store never leaves its inventory locked. The
 * session's {@code application_name} names the holder (pid and host), for the error of the
 * next store that tries.
 *
 * <p>If the session is lost while the store is open (the server restarted, the network cut
 * it), so is the lock, and so is the host's lock of a store shared by hosts. A keeper thread
 * checks the session every {@link PostgresVmStore.Builder#lockCheck} (a second) and, once it is
 * gone, takes both locks again on a new connection from the same source, as soon as the server
 * lets it connect. If another store took one of them in between (it could open while the lock
 * was down), the lock is lost for good: the store refuses every write from then on
 * ({@link #requireHeld}), so that two stores never both write as the inventory's only store or
 * as one host, and must be closed. A lock still held by this store's own previous session
 * (one the server has not noticed dead yet) is only waited for.
 */
final class InventoryLock implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PostgresVmStore.class);
    /** The lock's first key: "HCRX", the same for every Horcrux inventory. */
    static final int CLASS = 0x48435258;
    /** The first key of a host's lock, "HCRH": one store per host of a shared inventory. */
    static final int HOST_CLASS = 0x48435248;

    private final DataSource source; // null: the lock cannot be retaken
    private final String schema;
    private final String where;
    private final int key;
    private final boolean shared;
    private volatile Connection connection;
    private volatile int backend; // the PostgreSQL backend pid of the lock's session
    private String host; // the host this store serves on a shared inventory, once claimed
    private volatile String lost; // why the lock is lost for good, or null
    private volatile boolean closed;
    private ScheduledExecutorService keeper;
    private boolean reported; // the loss of the session was logged at WARN once already

    private InventoryLock(DataSource source, Connection connection, String schema, String where, boolean shared) {
        this.source = source;
        this.connection = connection;
        this.schema = schema;
        this.where = where;
        this.key = schema.hashCode();
        this.shared = shared;
    }

    /**
     * Takes the lock on {@code connection}, which it keeps; closes it when the lock is held by
     * another session. A lock taken so is never retaken.
     *
     * @throws StoreException naming the holder if another store holds the inventory
     */
    static InventoryLock acquire(Connection connection, String schema, String where) throws SQLException {
        return acquire(null, connection, schema, where, false);
    }

    /**
     * Takes the lock, exclusive for a store that serves its inventory alone, shared for one of
     * several hosts' stores: a store of either kind keeps out those of the other.
     *
     * @param source where {@code connection} came from, for a new one when its session is lost
     */
    static InventoryLock acquire(DataSource source, Connection connection, String schema, String where, boolean shared)
            throws SQLException {
        InventoryLock lock = new InventoryLock(source, connection, schema, where, shared);
        if (!lock.take(connection)) {
            String holder = holder(connection, CLASS, schema.hashCode(), shared).description();
            close(connection);
            throw new StoreException(where + ": the inventory is in use by another PostgresVmStore (" + holder
                    + "); " + (shared ? "it serves the inventory alone (not shared by hosts)"
                    : "one store per inventory, unless opened shared by several hosts") + ". Close it, or use another schema");
        }
        lock.backend = backendPid(connection);
        return lock;
    }

    /** Names the session and tries the inventory's lock on it; true if taken. */
    private boolean take(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT set_config('application_name', ?, false)")) {
            ps.setString(1, holderName());
            ps.executeQuery().close();
        }
        return tryLock(c, shared ? "SELECT pg_try_advisory_lock_shared(?, ?)" : "SELECT pg_try_advisory_lock(?, ?)",
                CLASS, key);
    }

    private static boolean tryLock(Connection c, String sql, int classKey, int objectKey) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, classKey);
            ps.setInt(2, objectKey);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    private static int backendPid(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_backend_pid()"); ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /**
     * Starts the keeper: every {@code period}, a check that the lock's session lives, and a
     * retake when it does not (see the class javadoc).
     */
    synchronized void keep(java.time.Duration period) {
        if (source == null || keeper != null || closed) {
            return;
        }
        keeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "horcrux-postgres-lock");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, period.toMillis());
        keeper.scheduleWithFixedDelay(this::check, every, every, TimeUnit.MILLISECONDS);
    }

    /** Checks the session now and retakes the locks if it is gone; what the keeper does each period. */
    synchronized void check() {
        if (closed || lost != null || isValid()) {
            return;
        }
        Connection fresh;
        try {
            fresh = source.getConnection();
        } catch (SQLException | RuntimeException e) {
            if (!reported) {
                log.warn("{}: the session holding the inventory's lock is gone and no new one can be opened yet ({});"
                        + " trying again every check", where, e.getMessage());
                reported = true;
            } else {
                log.debug("{}: still no new session for the inventory's lock ({})", where, e.getMessage());
            }
            return;
        }
        close(connection);
        connection = fresh;
        try {
            boolean inventory = take(fresh);
            if (inventory && (host == null || tryLock(fresh, "SELECT pg_try_advisory_lock(?, ?)", HOST_CLASS, hostKey(host)))) {
                backend = backendPid(fresh);
                reported = false;
                log.warn("{}: the session holding the inventory's lock was lost; took the lock{} again (backend {})", where,
                        host == null ? "" : " and that of host " + host, backend);
                return;
            }
            Holder holder = inventory ? holder(fresh, HOST_CLASS, hostKey(host), false) : holder(fresh, CLASS, key, shared);
            if (inventory) {
                unlock(fresh);
            }
            if (holder.pid() == 0) {
                close(fresh); // it let go as we looked: try again at the next check
                return;
            }
            if (holder.pid() == backend) {
                log.warn("{}: the {} lock is still held by this store's previous session (backend {}), which the server"
                        + " has not seen end yet; waiting for it", where, inventory ? "host's" : "inventory's", backend);
                close(fresh);
                return;
            }
            lost = "the session holding the inventory's lock" + (host == null ? "" : " and host " + host + "'s")
                    + " was lost (the server restarted or the connection was cut) and another store took the "
                    + (inventory ? "host's" : "inventory's") + " lock meanwhile (" + holder.description() + ")";
            log.error("{}: {}; this store refuses every write from now on: close it", where, lost);
        } catch (SQLException e) {
            log.warn("{}: retaking the inventory's lock failed ({}); trying again", where, e.getMessage());
        }
    }

    /** Releases the inventory's lock held on {@code c}, in its mode. */
    private void unlock(Connection c) {
        try (PreparedStatement ps = c.prepareStatement(shared
                ? "SELECT pg_advisory_unlock_shared(?, ?)" : "SELECT pg_advisory_unlock(?, ?)")) {
            ps.setInt(1, CLASS);
            ps.setInt(2, key);
            ps.executeQuery().close();
        } catch (SQLException e) {
            log.debug("{}: releasing the inventory lock failed (a lost session has released it already)", where, e);
        }
    }

    /**
     * @throws StoreException if the lock was lost for good to another store (see the class
     *                        javadoc): this store may write nothing more
     */
    void requireHeld() {
        String why = lost;
        if (why != null) {
            throw new StoreException(where + ": " + why + "; this store writes nothing more. Close it and open it again");
        }
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
        requireHeld();
        try {
            if (!tryLock(connection, "SELECT pg_try_advisory_lock(?, ?)", HOST_CLASS, hostKey(host))) {
                throw new StoreException(where + ": host " + host + " is served by another open store; one store"
                        + " (one manager) per host at a time. Close it, or name this host differently");
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

    /** A session that holds a lock in a mode that keeps this one out; pid 0 when none is seen. */
    record Holder(int pid, String description) {
    }

    /**
     * Who holds the lock (classKey, objectKey) in a way that keeps out a request for it, shared
     * ({@code sharedWanted}: only an exclusive holder does) or exclusive (any holder does).
     */
    private static Holder holder(Connection c, int classKey, int objectKey, boolean sharedWanted) {
        try (PreparedStatement ps = c.prepareStatement("SELECT a.application_name, a.pid, a.usename, a.client_addr"
                + " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                + " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ?::oid AND l.objid = ?::oid"
                + " AND l.objsubid = 2 AND l.pid <> pg_backend_pid() AND (l.mode = 'ExclusiveLock' OR NOT ?)"
                + " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")) {
            ps.setLong(1, classKey & 0xffffffffL);
            ps.setLong(2, objectKey & 0xffffffffL);
            ps.setBoolean(3, sharedWanted);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return new Holder(0, "a session that has just let go; try again");
                }
                return new Holder(rs.getInt(2), "held by '" + rs.getString(1) + "', PostgreSQL backend pid " + rs.getInt(2)
                        + ", role " + rs.getString(3) + (rs.getString(4) == null ? "" : " from " + rs.getString(4)));
            }
        } catch (SQLException e) {
            return new Holder(0, "holder unknown: " + e.getMessage());
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
        ScheduledExecutorService stopping;
        synchronized (this) {
            closed = true;
            stopping = keeper;
            if (stopping != null) {
                stopping.shutdownNow();
            }
        }
        if (stopping != null) {
            try {
                stopping.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Connection c = connection;
        unlock(c); // in the mode it was taken: a shared lock left on a pooled session would outlive the store
        try (PreparedStatement ps = c.prepareStatement("SELECT set_config('application_name', '', false)")) {
            ps.executeQuery().close();
        } catch (SQLException e) {
            log.debug("{}: resetting the lock session's name failed", where, e);
        }
        close(c);
    }

    private static void close(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            log.debug("closing the inventory lock's connection failed", e);
        }
    }
}
