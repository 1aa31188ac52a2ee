package io.horcrux.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.horcrux.StoreException;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's reads: a HikariCP pool of reader connections, each keeping its prepared
 * statements, and the cursors of open streams. In WAL mode a read never waits for the writer
 * or for another read, and each query reads one consistent snapshot.
 */
final class SqliteReader implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SqliteVmStore.class);
    private static final AtomicInteger POOL_SEQUENCE = new AtomicInteger();

    private final String where;
    private final int fetchSize;
    private final Runnable ensureOpen;
    private final HikariDataSource pool;
    private final ReaderStatements statements = new ReaderStatements();
    private final Set<VmCursor> cursors = ConcurrentHashMap.newKeySet();
    private final SpecMemo specs = new SpecMemo();

    /** @param ensureOpen throws if the store is closed */
    SqliteReader(DataSource dataSource, int poolSize, Duration busyTimeout, Duration leakDetectionThreshold,
                 int fetchSize, String where, Runnable ensureOpen) {
        this.where = where;
        this.fetchSize = fetchSize;
        this.ensureOpen = ensureOpen;
        HikariConfig hc = new HikariConfig();
        hc.setPoolName("horcrux-store-readers-" + POOL_SEQUENCE.incrementAndGet());
        hc.setDataSource(dataSource);
        hc.setMaximumPoolSize(poolSize);
        // A fixed pool of connections that live as long as the store: SQLite connections
        // do not go stale, and each keeps its prepared statements.
        hc.setMinimumIdle(poolSize);
        hc.setMaxLifetime(0);
        hc.setAutoCommit(true);
        hc.setConnectionTimeout(Math.max(250, busyTimeout.toMillis()));
        hc.setLeakDetectionThreshold(leakDetectionThreshold.toMillis());
        this.pool = new HikariDataSource(hc);
    }

    Optional<Vm> find(String id) {
        try (Connection c = pool.getConnection()) {
            PreparedStatement ps = statements.prepare(c, VmRows.FIND);
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(VmRows.read(rs, specs)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw failure("reading VM " + id, e);
        }
    }

    Page<Vm> list(VmQuery query) {
        int limit = query.limit().orElse(VmQuery.DEFAULT_LIMIT);
        VmRows.Select select = VmRows.select(query, limit + 1);
        List<Vm> items = new ArrayList<>(Math.min(limit, 1024));
        boolean more = false;
        try (Connection c = pool.getConnection()) {
            PreparedStatement ps = statements.prepare(c, select.sql());
            select.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (items.size() == limit) {
                        more = true;
                        break;
                    }
                    items.add(VmRows.read(rs, specs));
                }
            }
        } catch (SQLException e) {
            throw failure("listing VMs", e);
        }
        return new Page<>(items, more ? items.get(items.size() - 1).id() : null);
    }

    /** A cursor over the matches on a reader connection of its own; see {@link SqliteVmStore#stream}. */
    Stream<Vm> stream(VmQuery query) {
        VmRows.Select select = VmRows.select(query, query.limit().orElse(0));
        Connection c = null;
        PreparedStatement ps = null;
        try {
            c = pool.getConnection();
            ps = c.prepareStatement(select.sql());
            ps.setFetchSize(fetchSize);
            select.bind(ps);
            ResultSet rs = ps.executeQuery();
            VmCursor[] self = new VmCursor[1];
            VmCursor cursor = new VmCursor(c, ps, rs, specs, where, () -> cursors.remove(self[0]));
            self[0] = cursor;
            cursors.add(cursor);
            try {
                ensureOpen.run();
            } catch (IllegalStateException closed) { // close() may have swept the cursors before this one was added
                cursor.close();
                throw closed;
            }
            return StreamSupport.stream(cursor, false).onClose(cursor::close);
        } catch (SQLException e) {
            closeQuietly(ps);
            closeQuietly(c);
            throw failure("streaming VMs", e);
        }
    }

    long count(VmQuery query) {
        VmRows.Select select = VmRows.count(query);
        try (Connection c = pool.getConnection()) {
            PreparedStatement ps = statements.prepare(c, select.sql());
            select.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw failure("counting VMs", e);
        }
    }

    /** The stored ids among {@code distinct}, on one reader connection. */
    Set<String> existingIds(List<String> distinct) {
        try (Connection c = pool.getConnection()) {
            return Set.copyOf(VmRows.existingIds(distinct, sql -> statements.prepare(c, sql), false));
        } catch (SQLException e) {
            throw failure("checking which ids exist", e);
        }
    }

    /** Connections of the pool in use now (open streams and reads in flight); 0 once closed. */
    int activeConnections() {
        return pool.isClosed() ? 0 : pool.getHikariPoolMXBean().getActiveConnections();
    }

    /** A reader connection; the caller closes it. */
    Connection connection() throws SQLException {
        return pool.getConnection();
    }

    /** Closes open streams, the cached statements and the pool. */
    @Override
    public void close() {
        for (VmCursor cursor : List.copyOf(cursors)) {
            cursor.close();
        }
        statements.closeAll();
        pool.close();
    }

    private StoreException failure(String operation, Exception e) {
        if (e instanceof StoreException se) {
            return se;
        }
        return new StoreException(where + ": " + operation + " failed (" + e.getMessage() + ")", e);
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
}
