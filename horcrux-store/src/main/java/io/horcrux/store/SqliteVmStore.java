package io.horcrux.store;

import io.horcrux.StoreException;
import io.horcrux.internal.OwnerLock;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.spi.VmStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The embedded inventory: a {@link VmStore} in one SQLite database file, the default store of
 * a single-host Horcrux.
 *
 * <pre>{@code
 * try (SqliteVmStore store = SqliteVmStore.open(dataDir.resolve("horcrux.db"));
 *      VmManager manager = VmManager.builder().store(store).driver(driver).build()) {
 *     ...
 * }
 * }</pre>
 *
 * <h2>Connections and threads</h2>
 * SQLite allows one writer and many readers at a time; the store is built the same way.
 * Every write goes through <em>one</em> writer connection, serialised by a lock and run as a
 * {@code BEGIN IMMEDIATE} transaction, so writers never fail on each other with
 * {@code SQLITE_BUSY}. Reads take a connection from a HikariCP pool of
 * {@linkplain Builder#readerPoolSize(int) reader connections}; in WAL mode (always used for
 * files) they never wait for the writer or for each other, and each query reads one
 * consistent snapshot. Every connection is opened with the same pragmas:
 * {@code journal_mode=WAL}, the {@linkplain Builder#synchronous(Synchronous) synchronous}
 * mode, {@code busy_timeout} and {@code foreign_keys=ON}. The store is thread-safe.
 *
 * <h2>Reads</h2>
 * A read selects only the columns a {@link Vm} needs and decodes each distinct stored spec
 * once: a row whose spec is byte for byte one read before gets the same immutable
 * {@link io.horcrux.model.VmSpec} again (status, version and timestamps always come from the
 * row). The specs are remembered in a bounded table of soft references (at most 16,384), which
 * the garbage collector empties before the heap runs out; a listing of an unchanged inventory
 * allocates well under a kilobyte per VM.
 *
 * <h2>Layout</h2>
 * A row per VM with indexed columns for what queries filter and sort on (id, name, status,
 * version, timestamps) and the spec as JSON; labels are copied to their own table with an
 * index on (key, value) so label filters are index lookups. Listing is keyset pagination in id
 * order ({@code WHERE id > ? ORDER BY id LIMIT ?}); {@link #stream} walks a real cursor. The
 * schema is migrated on open by versioned scripts in one transaction, recorded in
 * {@code PRAGMA user_version}; a database written by a newer Horcrux is refused unchanged.
 *
 * <h2>One store per database</h2>
 * A store claims its database with an OS lock on {@code <file>.lock} beside it, holding the
 * owner's pid and start time. A second store on the same file, in this JVM or another
 * process, fails at open with a {@link StoreException} that names the holder; nothing can
 * serve stale data from a cache another process invalidated. The OS releases the lock when
 * the owner exits, even by {@code SIGKILL}, so a crash never leaves the database locked.
 *
 * <h2>Durability</h2>
 * A write that returned is committed. With {@link Synchronous#FULL} it also survives a power
 * loss or OS crash; with the default {@link Synchronous#NORMAL} it survives a crash or kill
 * of the JVM, but the last transactions before a power loss may roll back (never corrupting
 * the database, and always whole transactions). Batches are all or none in every case.
 *
 * <h2>Errors</h2>
 * A file that is not an SQLite database, is corrupt, is read-only (or in a read-only
 * directory), is locked by another store, or was written by a newer schema fails at
 * {@link #open}/{@link Builder#build()} with a {@link StoreException} naming the file, and is
 * left unchanged. Failures of SQLite later are {@link StoreException}s too. Calls after
 * {@link #close()} throw {@link IllegalStateException}.
 */
public final class SqliteVmStore implements VmStore {
    private static final Logger log = LoggerFactory.getLogger(SqliteVmStore.class);
    private static final Pattern MEMORY_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Set<String> IN_MEMORY_NAMES = ConcurrentHashMap.newKeySet();

    /**
     * How hard SQLite pushes a commit to the disk ({@code PRAGMA synchronous}); in WAL mode.
     */
    public enum Synchronous {
        /**
         * Commits survive a crash of the JVM or of SQLite; after a power loss or OS crash the
         * last commits may be rolled back (the database stays consistent). Faster: the WAL is
         * synced only at checkpoints.
         */
        NORMAL,
        /** Every commit is synced to disk before the write returns: it survives a power loss. */
        FULL
    }

    private final String where;
    private final OwnerLock fileLock; // null in memory
    private final String memoryName; // null for a file
    private final SqliteWriter writes;
    private final SqliteReader reads;
    private final SqliteSnapshots snapshots;
    private final SqliteSnapshotJournal journal;
    private final SqliteLinks links;
    private volatile boolean closed;

    private SqliteVmStore(Builder b, String where, String url, OwnerLock fileLock) {
        this.where = where;
        this.fileLock = fileLock;
        this.memoryName = b.memoryName;
        SQLiteConfig config = new SQLiteConfig();
        if (b.file != null) {
            config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        }
        config.setSynchronous(b.synchronous == Synchronous.FULL
                ? SQLiteConfig.SynchronousMode.FULL : SQLiteConfig.SynchronousMode.NORMAL);
        config.setBusyTimeout((int) Math.min(Integer.MAX_VALUE, b.busyTimeout.toMillis()));
        config.enforceForeignKeys(true);
        SQLiteDataSource dataSource = new SQLiteDataSource(config);
        dataSource.setUrl(url);

        Connection w = null;
        SqliteWriter writer;
        SqliteReader r = null;
        try {
            w = dataSource.getConnection();
            Migrations.migrate(w, where);
            writer = new SqliteWriter(w, where, this::ensureOpen);

            r = new SqliteReader(dataSource, b.readerPoolSize, b.busyTimeout, b.leakDetectionThreshold, b.fetchSize,
                    where, this::ensureOpen);
        } catch (SQLException | RuntimeException e) {
            closeQuietly(w);
            if (r != null) {
                r.close();
            }
            if (e instanceof StoreException se) {
                throw se;
            }
            throw new StoreException(where + ": cannot open the database (" + e.getMessage() + ")", e);
        }
        this.writes = writer;
        this.reads = r;
        this.snapshots = new SqliteSnapshots(writer, r, where);
        this.journal = new SqliteSnapshotJournal(writer, r, where);
        this.links = new SqliteLinks(writer, r, where);
        log.info("opened {} (schema version {}, {} reader connections, synchronous={})", where, Migrations.LATEST,
                b.readerPoolSize, b.synchronous);
    }

    /**
     * Opens (creating it and its directories if missing) the database file with every default
     * setting; see {@link Builder} for the defaults.
     *
     * @throws StoreException if the file is not a usable SQLite database of this or an older
     *                        schema, is read-only, or is open in another store
     */
    public static SqliteVmStore open(Path file) {
        return builder().file(file).build();
    }

    /** A builder for a store with non-default settings. */
    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- writes

    @Override
    public void insert(Vm vm) {
        insertAll(List.of(Objects.requireNonNull(vm, "vm")));
    }

    @Override
    public void insertAll(List<Vm> vms) {
        writes.insertAll(vms);
    }

    /**
     * {@inheritDoc}
     *
     * <p>One query per {@value VmRows#ID_CHUNK} ids, on a reader connection: it never waits
     * for writes.
     */
    @Override
    public Set<String> existingIds(Collection<String> ids) {
        Objects.requireNonNull(ids, "ids");
        Set<String> unique = new LinkedHashSet<>();
        for (String id : ids) {
            unique.add(Objects.requireNonNull(id, "ids must not contain null"));
        }
        List<String> distinct = List.copyOf(unique);
        ensureOpen();
        if (distinct.isEmpty()) {
            return Set.of();
        }
        return reads.existingIds(distinct);
    }

    // ---------------------------------------------------------------- linked clones

    @Override
    public void insertLinkedClone(Vm clone, String templateId) {
        links.insert(clone, templateId);
    }

    @Override
    public List<String> linkedClones(String templateId) {
        ensureOpen();
        return links.clones(templateId);
    }

    // ---------------------------------------------------------------- snapshots

    /** {@inheritDoc} <p>On a reader connection: it never waits for writes. */
    @Override
    public List<io.horcrux.model.Snapshot> snapshots(String vmId) {
        ensureOpen();
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
        ensureOpen();
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

    @Override
    public void update(Vm vm, long expectedVersion) {
        writes.update(vm, expectedVersion);
    }

    @Override
    public void delete(String id, long expectedVersion) {
        writes.delete(id, expectedVersion);
    }

    // ---------------------------------------------------------------- reads

    @Override
    public Optional<Vm> find(String id) {
        Objects.requireNonNull(id, "id");
        ensureOpen();
        return reads.find(id);
    }

    @Override
    public Page<Vm> list(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return reads.list(query);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The stream holds one reader connection and reads one consistent snapshot; it gives
     * the connection back when closed, when exhausted, when reading fails and when its
     * consumer throws. Close it (try-with-resources): an abandoned, unfinished stream keeps its
     * connection, and in WAL mode keeps checkpoints from shrinking the log.
     */
    @Override
    public Stream<Vm> stream(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return reads.stream(query);
    }

    @Override
    public long count(VmQuery query) {
        Objects.requireNonNull(query, "query");
        ensureOpen();
        return reads.count(query);
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Closes open streams, the reader pool and the writer connection (which checkpoints the
     * WAL into the database file), then releases the database's lock. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        reads.close();
        try {
            writes.close();
        } finally {
            if (fileLock != null) {
                fileLock.close();
            }
            if (memoryName != null) {
                IN_MEMORY_NAMES.remove(memoryName);
            }
        }
        log.info("closed {}", where);
    }

    /** Connections of the reader pool in use now (open streams and reads in flight); 0 once closed. */
    int activeReaderConnections() {
        return reads.activeConnections();
    }

    /** A reader connection for inspection; the caller closes it. */
    Connection readerConnection() throws SQLException {
        ensureOpen();
        return reads.connection();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the store " + where + " is closed");
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception e) {
                log.debug("closing {} failed", c, e);
            }
        }
    }

    @Override
    public String toString() {
        return "SqliteVmStore[" + where + (closed ? ", closed" : "") + "]";
    }

    // ---------------------------------------------------------------- opening

    private static SqliteVmStore openFile(Builder b) {
        Path file = b.file.toAbsolutePath().normalize();
        String where = file.toString();
        Path dir = file.getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StoreException(where + ": cannot create the directory " + dir + " (" + e + ")", e);
        }
        DatabaseFile.requireWritable(dir, where, "its directory " + dir);
        boolean exists = Files.exists(file);
        if (exists) {
            if (!Files.isRegularFile(file)) {
                throw new StoreException(where + ": not a regular file");
            }
            DatabaseFile.requireWritable(file, where, "the file");
            DatabaseFile.requireSqliteHeader(file);
        }
        OwnerLock lock = OwnerLock.acquire(file, file.resolveSibling(file.getFileName() + ".lock"), "SqliteVmStore",
                StoreException::new);
        try {
            if (exists) {
                DatabaseFile.probe(file);
            }
            return new SqliteVmStore(b, where, "jdbc:sqlite:" + file, lock);
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private static SqliteVmStore openInMemory(Builder b) {
        String where = "in-memory database '" + b.memoryName + "'";
        if (!IN_MEMORY_NAMES.add(b.memoryName)) {
            throw new StoreException(where + ": already in use in this process by another SqliteVmStore");
        }
        try {
            // The memdb VFS shares one database among this process's connections by name and
            // locks like a file, so busy_timeout applies. It lives while one connection is open:
            // the writer's, for the store's lifetime.
            return new SqliteVmStore(b, where, "jdbc:sqlite:file:/horcrux-" + b.memoryName + "?vfs=memdb", null);
        } catch (RuntimeException e) {
            IN_MEMORY_NAMES.remove(b.memoryName);
            throw e;
        }
    }

    /**
     * Settings of a {@link SqliteVmStore}. Set exactly one of {@link #file} and
     * {@link #inMemory}; every other setting has a default. Each setting may be set once.
     * Not thread-safe.
     */
    public static final class Builder {
        private Path file;
        private String memoryName;
        private int readerPoolSize = 4;
        private boolean readerPoolSizeSet;
        private Synchronous synchronous = Synchronous.NORMAL;
        private boolean synchronousSet;
        private Duration busyTimeout = Duration.ofSeconds(5);
        private boolean busyTimeoutSet;
        private Duration leakDetectionThreshold = Duration.ZERO;
        private boolean leakDetectionSet;
        private int fetchSize = 256;
        private boolean fetchSizeSet;

        private Builder() {
        }

        /**
         * The database file; created with its directories if missing. The lock file
         * {@code <file>.lock} and SQLite's {@code <file>-wal} and {@code <file>-shm} live
         * beside it.
         */
        public Builder file(Path file) {
            Objects.requireNonNull(file, "file");
            requireNoLocation();
            this.file = file;
            return this;
        }

        /**
         * A database in memory, shared by the store's connections and gone when the store
         * closes; for tests. The name ({@code [A-Za-z0-9._-]{1,64}}) must be unique among the
         * stores open in this JVM. Streams in this mode hold a read lock that makes writes wait
         * (up to the {@link #busyTimeout busy timeout}) until they close: there is no WAL in
         * memory.
         */
        public Builder inMemory(String name) {
            Objects.requireNonNull(name, "name");
            if (!MEMORY_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("inMemory name '" + name + "' must match " + MEMORY_NAME);
            }
            requireNoLocation();
            this.memoryName = name;
            return this;
        }

        /** Reader connections in the pool, 1 to 64; default 4. Writes use one more connection. */
        public Builder readerPoolSize(int size) {
            readerPoolSizeSet = once(readerPoolSizeSet, "readerPoolSize");
            if (size < 1 || size > 64) {
                throw new IllegalArgumentException("readerPoolSize must be between 1 and 64, was " + size);
            }
            this.readerPoolSize = size;
            return this;
        }

        /** The {@code synchronous} pragma; default {@link Synchronous#NORMAL}. */
        public Builder synchronous(Synchronous mode) {
            synchronousSet = once(synchronousSet, "synchronous");
            this.synchronous = Objects.requireNonNull(mode, "synchronous");
            return this;
        }

        /**
         * How long a statement waits for a lock held by another connection before failing, and
         * how long a read waits for a free reader connection; default 5 seconds. Positive, at
         * most 1 hour; milliseconds are the unit SQLite uses.
         */
        public Builder busyTimeout(Duration timeout) {
            busyTimeoutSet = once(busyTimeoutSet, "busyTimeout");
            Objects.requireNonNull(timeout, "busyTimeout");
            if (timeout.toMillis() < 1 || timeout.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("busyTimeout must be between 1 ms and 1 hour, was " + timeout);
            }
            this.busyTimeout = timeout;
            return this;
        }

        /**
         * Logs a warning with the borrower's stack when a reader connection is held longer
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

        /** Rows a {@link SqliteVmStore#stream stream} asks of its cursor at a time, 1 to 10,000; default 256. */
        public Builder fetchSize(int rows) {
            fetchSizeSet = once(fetchSizeSet, "fetchSize");
            if (rows < 1 || rows > 10_000) {
                throw new IllegalArgumentException("fetchSize must be between 1 and 10000, was " + rows);
            }
            this.fetchSize = rows;
            return this;
        }

        /**
         * Opens the store: claims the database, checks it, and migrates its schema.
         *
         * @throws IllegalStateException if neither a file nor an in-memory name was set
         * @throws StoreException        if the database cannot be used; see the class javadoc
         */
        public SqliteVmStore build() {
            if (file != null) {
                return openFile(this);
            }
            if (memoryName != null) {
                return openInMemory(this);
            }
            throw new IllegalStateException("set the database: file(Path) or inMemory(String)");
        }

        private void requireNoLocation() {
            if (file != null || memoryName != null) {
                throw new IllegalStateException("the database was already set to "
                        + (file != null ? "file " + file : "in-memory '" + memoryName + "'"));
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
