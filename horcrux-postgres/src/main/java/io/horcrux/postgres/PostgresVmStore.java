package io.horcrux.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.horcrux.StoreException;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.spi.VmStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inventory in PostgreSQL: a {@link VmStore} in one schema of a PostgreSQL database, on
 * pgjdbc and a HikariCP pool.
 *
 * <pre>{@code
 * try (PostgresVmStore store = PostgresVmStore.open("jdbc:postgresql://db.example:5432/horcrux", "horcrux", secret);
 *      VmManager manager = VmManager.builder().store(store).driver(driver).build()) {
 *     ...
 * }
 * }</pre>
 * or, on a {@link DataSource} the application already has (its own pool, say):
 * <pre>{@code
 * PostgresVmStore store = PostgresVmStore.builder().dataSource(dataSource).schema("inventory").build();
 * }</pre>
 *
 * <h2>Connections and threads</h2>
 * Opened with a JDBC URL, the store keeps a HikariCP pool of at most
 * {@linkplain Builder#poolSize(int) poolSize} connections for reads and writes, plus one
 * connection outside the pool that holds the inventory's lock (below). Opened on a
 * {@code DataSource}, it borrows every connection from it instead, and holds one of them for
 * its whole life (the lock); closing the store gives that one back and never closes the
 * {@code DataSource}. Connections the application's {@code DataSource} hands out must be in
 * auto-commit mode, the JDBC default; the store gives them back so. Reads never wait for
 * other reads; writes wait only for writes to the same rows. The store is thread-safe.
 *
 * <h2>Layout</h2>
 * The SQLite store's layout: a row per VM in {@code <schema>.vms} with indexed columns for
 * what queries filter and sort on (id, name, status, version, timestamps as nanoseconds since
 * the epoch) and the spec as the JSON of {@link io.horcrux.spi.VmCodec}; labels copied to
 * {@code <schema>.vm_labels} with an index on (key, value). The spec is {@code text}, not
 * {@code jsonb}: the codec's bytes are deterministic, so equal text means an unchanged spec (an
 * update of the status alone rewrites no label rows), rows read back byte for byte with no
 * re-serialisation, and nothing queries inside the JSON. Ids sort in the {@code "C"}
 * collation (code point order) whatever the database's locale. Listing is keyset pagination in
 * id order ({@code WHERE id > ? ORDER BY id LIMIT ?}). Every value is a bound parameter; the
 * schema's name, the one identifier in the SQL text, must match {@code [a-z_][a-z0-9_]{0,62}}.
 *
 * <h2>Streams</h2>
 * {@link #stream} holds a server-side cursor: a connection of its own, out of auto-commit,
 * fetching {@linkplain Builder#fetchSize(int) fetchSize} rows at a time, so a stream of a
 * million VMs holds one batch in memory. Close it (try-with-resources): it gives the
 * connection back when closed, exhausted, failed, or when its consumer throws, and the store
 * closes those still open when it closes. An abandoned, unfinished stream keeps a connection
 * and a transaction open on the server.
 *
 * <h2>Writes</h2>
 * {@link #insertAll} is one transaction: all or none. {@link #update} and {@link #delete} are
 * compare-and-set on the version ({@code ... WHERE id = ? AND version = ?}), so a concurrent
 * writer is a {@link io.horcrux.VmConflictException}, never a lost update. A write that
 * returned is committed with the server's durability settings.
 *
 * <h2>Schema and ownership</h2>
 * Opening migrates the schema (created if missing) by versioned scripts in one transaction,
 * recorded in {@code <schema>.horcrux_schema}. Before it writes anything it refuses, with a
 * {@link StoreException} and leaving the database unchanged, a schema that has tables named
 * {@code vms} or {@code vm_labels} but no Horcrux version table (someone else's), and one
 * whose version is newer than this code knows. A store claims its schema with a session-level
 * advisory lock: a second store on the same schema of the same database, in this JVM or on
 * another host, fails at open with a {@link StoreException} naming the holder (its pid and
 * host, from the session's {@code application_name}). The lock dies with its session, so a
 * crashed owner never leaves the inventory locked. If the server drops that session while the
 * store is open (a restart, a cut connection), the store takes the lock again on a new session
 * within about a second of the server's return; a second store that opened in that moment
 * keeps it, and this store then refuses every write with a {@link StoreException} saying so
 * (reads go on) until it is closed.
 *
 * <h2>Errors</h2>
 * A server that cannot be reached or refuses the login, a schema that is not ours or is
 * newer, and an inventory held by another store fail at {@link #open}/{@link Builder#build()}
 * with a {@link StoreException} naming the database and schema. Failures of PostgreSQL later
 * are {@link StoreException}s too, carrying its message. Calls after {@link #close()} throw
 * {@link IllegalStateException}.
 */
public final class PostgresVmStore implements VmStore {
    private static final Logger log = LoggerFactory.getLogger(PostgresVmStore.class);

    private final String where;
    private final InventoryLock lock;
    private final HikariDataSource pool; // null on the application's DataSource
    private final PgReader reads;
    private final PgWriter writes;
    private final PgSnapshots snapshots;
    private final PgSnapshotJournal journal;
    private final PgLinks links;
    private final PgLeases leases; // null unless shared by hosts
    private volatile boolean closed;

    PostgresVmStore(String where, InventoryLock lock, HikariDataSource pool, DataSource connections,
                            PgRows rows, int fetchSize, boolean shared, String quotedSchema) {
        this.where = where;
        this.lock = lock;
        this.pool = pool;
        Connections borrow = () -> {
            Connection c = connections.getConnection();
            if (!c.getAutoCommit()) {
                c.setAutoCommit(true);
            }
            return c;
        };
        this.reads = new PgReader(borrow, rows, fetchSize, where, this::ensureOpen);
        Runnable ensureWritable = () -> { // a store whose lock went to another store writes nothing more
            ensureOpen();
            lock.requireHeld();
        };
        this.leases = shared ? new PgLeases(borrow, lock, rows, quotedSchema, where, ensureWritable) : null;
        this.writes = new PgWriter(borrow, rows, where, ensureWritable, leases == null ? () -> null : leases::token);
        this.snapshots = new PgSnapshots(borrow, rows.schema, where, this::ensureOpen, ensureWritable);
        this.journal = new PgSnapshotJournal(borrow, rows.schema, where, this::ensureOpen, ensureWritable);
        this.links = new PgLinks(borrow, rows, where, this::ensureOpen, ensureWritable, leases == null ? () -> null : leases::token);
    }

    /**
     * Opens the inventory in the default schema ({@code horcrux}) of the database at
     * {@code jdbcUrl}, with every other setting at its default; see {@link Builder}.
     *
     * @param jdbcUrl  a pgjdbc URL, {@code jdbc:postgresql://host:port/database}
     * @param user     the role to log in as
     * @param password its password; null for none
     * @throws IllegalArgumentException if {@code jdbcUrl} is not a pgjdbc URL
     * @throws StoreException           if the server cannot be reached or refuses the login, the
     *                                  schema is not Horcrux's or is newer, or another store holds it
     */
    public static PostgresVmStore open(String jdbcUrl, String user, String password) {
        return builder().jdbcUrl(jdbcUrl).user(user).password(password).build();
    }

    /** A builder for a store with non-default settings. */
    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- writes

    /** {@inheritDoc} */
    @Override
    public void insert(Vm vm) {
        insertAll(List.of(Objects.requireNonNull(vm, "vm")));
    }

    /**
     * {@inheritDoc}
     *
     * <p>One transaction, the rows sent as JDBC batches.
     */
    @Override
    public void insertAll(List<Vm> vms) {
        writes.insertAll(vms);
    }

    /**
     * {@inheritDoc}
     *
     * <p>One query whatever the number of ids: {@code WHERE id = ANY (?)} with the ids bound
     * as one array.
     */
    @Override
    public Set<String> existingIds(Collection<String> ids) {
        Objects.requireNonNull(ids, "ids");
        Set<String> unique = new LinkedHashSet<>();
        for (String id : ids) {
            unique.add(Objects.requireNonNull(id, "ids must not contain null"));
        }
        ensureOpen();
        if (unique.isEmpty()) {
            return Set.of();
        }
        return reads.existingIds(List.copyOf(unique));
    }

    /** {@inheritDoc} */
    @Override
    public void update(Vm vm, long expectedVersion) {
        writes.update(vm, expectedVersion);
    }

    /** {@inheritDoc} */
    @Override
    public void delete(String id, long expectedVersion) {
        writes.delete(id, expectedVersion);
    }

    // ---------------------------------------------------------------- linked clones

    @Override
    public void insertLinkedClone(Vm clone, String templateId) {
        links.insert(clone, templateId);
    }

    @Override
    public List<String> linkedClones(String templateId) {
        return links.clones(templateId);
    }

    // ---------------------------------------------------------------- snapshots

    @Override
    public List<io.horcrux.model.Snapshot> snapshots(String vmId) {
        return snapshots.list(vmId);
    }

    @Override
    public void insertSnapshot(String vmId, io.horcrux.model.Snapshot snapshot) {
        snapshots.insert(vmId, snapshot);
    }

    @Override
    public void revertSnapshot(String vmId, String name) {
        snapshots.revert(vmId, name);
    }

    @Override
    public void recordSnapshotIntent(io.horcrux.spi.SnapshotIntent intent) {
        journal.record(intent);
    }

    @Override
    public List<io.horcrux.spi.SnapshotIntent> snapshotIntents() {
        return journal.all();
    }

    @Override
    public void clearSnapshotIntent(String vmId) {
        journal.clear(vmId);
    }

    @Override
    public void deleteSnapshot(String vmId, String name) {
        snapshots.delete(vmId, name);
    }

    // ---------------------------------------------------------------- reads

    /** {@inheritDoc} */
    @Override
    public Optional<Vm> find(String id) {
        Objects.requireNonNull(id, "id");
        ensureOpen();
        return reads.find(id);
    }

    /** {@inheritDoc} */
    @Override
    public Page<Vm> list(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return reads.list(query);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The stream holds a server-side cursor on a connection of its own (see the class
     * javadoc) and gives it back when closed, exhausted, failed, or when its consumer throws.
     */
    @Override
    public Stream<Vm> stream(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return reads.stream(query);
    }

    /** {@inheritDoc} */
    @Override
    public long count(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return reads.count(query);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Present when the store was opened {@linkplain Builder#sharedByHosts(boolean) shared by
     * hosts}; see "Several hosts" in the class javadoc.
     */
    @Override
    public Optional<io.horcrux.spi.HostLeases> hostLeases() {
        return Optional.ofNullable(leases);
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Closes open streams and the store's own pool (never an application's {@code DataSource}),
     * then releases the inventory's lock. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (leases != null) {
                leases.closeFeeds();
            }
            reads.close();
            if (pool != null) {
                pool.close();
            }
        } finally {
            lock.close();
        }
        log.info("closed {}", where);
    }

    /** Connections of the store's pool in use now; 0 on an application's DataSource or once closed. */
    int activeConnections() {
        return pool == null || pool.isClosed() ? 0 : pool.getHikariPoolMXBean().getActiveConnections();
    }

    /** The claim on the inventory, for tests that take it from under the store. */
    InventoryLock inventoryLock() {
        return lock;
    }

    /** The cursors of the streams open now. */
    List<PgCursor> openCursors() {
        return reads.openCursors();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the store " + where + " is closed");
        }
    }

    @Override
    public String toString() {
        return "PostgresVmStore[" + where + (closed ? ", closed" : "") + "]";
    }

    // ---------------------------------------------------------------- opening

    /** The URL without its parameters, which may hold a password. */
    static String withoutParameters(String url) {
        int q = url.indexOf('?');
        return q < 0 ? url : url.substring(0, q);
    }

    /**
     * Settings of a {@link PostgresVmStore}. Set exactly one of {@link #jdbcUrl} and
     * {@link #dataSource}; every other setting has a default. Each setting may be set once.
     * Not thread-safe.
     */
    public static final class Builder {
        String jdbcUrl;
        String user;
        boolean userSet;
        String password;
        boolean passwordSet;
        DataSource dataSource;
        String schema = "horcrux";
        boolean schemaSet;
        int poolSize = 8;
        boolean poolSizeSet;
        Duration connectionTimeout = Duration.ofSeconds(5);
        boolean connectionTimeoutSet;
        Duration leakDetectionThreshold = Duration.ZERO;
        /**
         * How often the store checks that the session holding its inventory's lock lives, and
         * takes the lock again when it does not (see {@link InventoryLock}). Not a public setting:
         * tests in this package lengthen it to take the lock from under a store on purpose.
         */
        Duration lockCheck = Duration.ofSeconds(1);
        boolean leakDetectionSet;
        int fetchSize = 256;
        boolean fetchSizeSet;
        boolean shared;
        boolean sharedSet;

        private Builder() {
        }

        /**
         * The database: a pgjdbc URL, {@code jdbc:postgresql://host[:port]/database[?parameters]}.
         * The store opens its own HikariCP pool on it.
         *
         * @throws IllegalArgumentException if it does not start with {@code jdbc:postgresql:}
         * @throws IllegalStateException    if the database was already set
         */
        public Builder jdbcUrl(String jdbcUrl) {
            Objects.requireNonNull(jdbcUrl, "jdbcUrl");
            if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
                throw new IllegalArgumentException("jdbcUrl must start with jdbc:postgresql:, was "
                        + withoutParameters(jdbcUrl));
            }
            requireNoDatabase();
            this.jdbcUrl = jdbcUrl;
            return this;
        }

        /** The role to log in as, with {@link #jdbcUrl}; default: pgjdbc's (the URL's {@code user}, else the OS user). */
        public Builder user(String user) {
            userSet = once(userSet, "user");
            this.user = Objects.requireNonNull(user, "user");
            return this;
        }

        /** The role's password, with {@link #jdbcUrl}; null or unset for none. */
        public Builder password(String password) {
            passwordSet = once(passwordSet, "password");
            this.password = password;
            return this;
        }

        /**
         * The application's connections instead of a URL: every connection is borrowed from it,
         * one held for the store's life; it is never closed by the store. Pool settings
         * ({@link #poolSize}, {@link #connectionTimeout}, {@link #leakDetectionThreshold}) are
         * then the {@code DataSource}'s business and may not be set here.
         *
         * @throws IllegalStateException if the database was already set
         */
        public Builder dataSource(DataSource dataSource) {
            Objects.requireNonNull(dataSource, "dataSource");
            requireNoDatabase();
            this.dataSource = dataSource;
            return this;
        }

        /**
         * The schema that holds the inventory, created if missing; default {@code horcrux}. One
         * database may hold several inventories in different schemas.
         *
         * @throws IllegalArgumentException if it does not match {@code [a-z_][a-z0-9_]{0,62}}
         */
        public Builder schema(String schema) {
            schemaSet = once(schemaSet, "schema");
            Objects.requireNonNull(schema, "schema");
            PgSchema.quote(schema);
            this.schema = schema;
            return this;
        }

        /** Connections of the store's pool, 1 to 200; default 8. The inventory's lock takes one more. */
        public Builder poolSize(int size) {
            poolSizeSet = once(poolSizeSet, "poolSize");
            if (size < 1 || size > 200) {
                throw new IllegalArgumentException("poolSize must be between 1 and 200, was " + size);
            }
            this.poolSize = size;
            return this;
        }

        /**
         * How long opening a connection, or waiting for a free one of the pool, may take before
         * the call fails with a {@link StoreException}; default 5 seconds, from 250 ms to 1 hour.
         */
        public Builder connectionTimeout(Duration timeout) {
            connectionTimeoutSet = once(connectionTimeoutSet, "connectionTimeout");
            Objects.requireNonNull(timeout, "connectionTimeout");
            if (timeout.toMillis() < 250 || timeout.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("connectionTimeout must be between 250 ms and 1 hour, was " + timeout);
            }
            this.connectionTimeout = timeout;
            return this;
        }

        /**
         * Logs a warning with the borrower's stack when a connection of the pool is held longer
         * than this (an unclosed stream, usually); HikariCP's leak detection. Default off
         * ({@link Duration#ZERO}); otherwise at least 2 seconds.
         */
        public Builder leakDetectionThreshold(Duration threshold) {
            leakDetectionSet = once(leakDetectionSet, "leakDetectionThreshold");
            Objects.requireNonNull(threshold, "leakDetectionThreshold");
            if (!threshold.isZero() && threshold.compareTo(Duration.ofSeconds(2)) < 0) {
                throw new IllegalArgumentException("leakDetectionThreshold must be zero (off) or at least 2 s, was "
                        + threshold);
            }
            this.leakDetectionThreshold = threshold;
            return this;
        }

        /** Rows a {@link PostgresVmStore#stream stream} fetches from its cursor at a time, 1 to 10,000; default 256. */
        public Builder fetchSize(int rows) {
            fetchSizeSet = once(fetchSizeSet, "fetchSize");
            if (rows < 1 || rows > 10_000) {
                throw new IllegalArgumentException("fetchSize must be between 1 and 10000, was " + rows);
            }
            this.fetchSize = rows;
            return this;
        }

        /**
         * Whether several hosts share this inventory, each through a store of its own (one per
         * host, each under a {@code VmManager} with its own {@code host}): the store then offers
         * {@link PostgresVmStore#hostLeases() host leases}, and every write it makes carries its
         * host's fencing token, checked by the database. Default false: the store serves its
         * inventory alone, and keeps other stores out. Stores of the two kinds keep each other
         * out of one schema.
         */
        public Builder sharedByHosts(boolean shared) {
            sharedSet = once(sharedSet, "sharedByHosts");
            this.shared = shared;
            return this;
        }

        /**
         * Opens the store: connects, claims the schema, checks it and migrates it.
         *
         * @throws IllegalStateException if neither a URL nor a DataSource was set, or a setting
         *                               was combined with one it does not apply to
         * @throws StoreException        if the database cannot be used; see the class javadoc
         */
        public PostgresVmStore build() {
            if (jdbcUrl == null && dataSource == null) {
                throw new IllegalStateException("set the database: jdbcUrl(String) or dataSource(DataSource)");
            }
            if (dataSource != null) {
                for (String option : List.of(userSet ? "user" : "", passwordSet ? "password" : "",
                        poolSizeSet ? "poolSize" : "", connectionTimeoutSet ? "connectionTimeout" : "",
                        leakDetectionSet ? "leakDetectionThreshold" : "")) {
                    if (!option.isEmpty()) {
                        throw new IllegalStateException(option + " applies to a jdbcUrl, not to a DataSource"
                                + " (configure the DataSource itself)");
                    }
                }
            }
            return Opening.open(this);
        }

        private void requireNoDatabase() {
            if (jdbcUrl != null || dataSource != null) {
                throw new IllegalStateException("the database was already set to "
                        + (jdbcUrl != null ? withoutParameters(jdbcUrl) : "DataSource " + dataSource));
            }
        }

        private static boolean once(boolean alreadySet, String option) {
            if (alreadySet) {
                throw new IllegalStateException(option + " was already set");
            }
            return true;
        }
    }
}
