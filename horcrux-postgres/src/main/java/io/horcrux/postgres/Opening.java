package io.horcrux.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.horcrux.StoreException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.LoggerFactory;

/**
 * How a {@link PostgresVmStore} opens: connect (the lock's connection first, outside any pool),
 * claim the schema, check and migrate it, and only then open the pool. Whatever fails on the
 * way is undone: the pool closed, the lock released, the connection closed.
 */
final class Opening {
    private static final AtomicInteger POOL_SEQUENCE = new AtomicInteger();

    private Opening() {
    }

    static PostgresVmStore open(PostgresVmStore.Builder b) {
        String quoted = PgSchema.quote(b.schema);
        PGSimpleDataSource direct = null;
        DataSource lockSource = b.dataSource;
        String described = "PostgreSQL " + (b.jdbcUrl != null ? PostgresVmStore.withoutParameters(b.jdbcUrl) : "DataSource " + b.dataSource);
        if (b.dataSource == null) {
            direct = new PGSimpleDataSource();
            direct.setUrl(b.jdbcUrl);
            if (b.user != null) {
                direct.setUser(b.user);
            }
            if (b.password != null) {
                direct.setPassword(b.password);
            }
            direct.setApplicationName("horcrux");
            direct.setReWriteBatchedInserts(true);
            direct.setTcpKeepAlive(true);
            direct.setConnectTimeout((int) Math.max(1, b.connectionTimeout.toSeconds()));
            lockSource = direct;
        }
        Connection lockConnection;
        try {
            lockConnection = lockSource.getConnection();
        } catch (SQLException | RuntimeException e) {
            throw new StoreException(described + ": cannot connect (" + e.getMessage() + ")", e);
        }
        String where = described + ", schema " + b.schema;
        InventoryLock lock = null;
        HikariDataSource pool = null;
        try {
            if (b.dataSource != null) {
                where = "PostgreSQL " + PostgresVmStore.withoutParameters(lockConnection.getMetaData().getURL()) + ", schema " + b.schema;
            }
            lock = InventoryLock.acquire(lockSource, lockConnection, b.schema, where, b.shared);
            int from = PgSchema.migrate(lockConnection, b.schema, where);
            if (direct != null) {
                pool = pool(b, direct);
            }
            PostgresVmStore store = new PostgresVmStore(where, lock, pool, pool != null ? pool : b.dataSource,
                    new PgRows(quoted), b.fetchSize, b.shared, quoted);
            lock.keep(b.lockCheck);
            LoggerFactory.getLogger(PostgresVmStore.class).info("opened {} (schema version {}{}, {})", where, PgSchema.LATEST,
                    from < PgSchema.LATEST ? ", migrated from " + from : "",
                    pool != null ? "pool of " + b.poolSize : "the application's DataSource");
            return store;
        } catch (SQLException | RuntimeException e) {
            if (pool != null) {
                pool.close();
            }
            if (lock != null) {
                lock.close();
            } else {
                try {
                    lockConnection.close();
                } catch (SQLException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof StoreException se) {
                throw se;
            }
            throw new StoreException(where + ": cannot open the inventory (" + e.getMessage() + ")", e);
        }
    }

    private static HikariDataSource pool(PostgresVmStore.Builder b, PGSimpleDataSource direct) {
        HikariConfig hc = new HikariConfig();
        hc.setPoolName("horcrux-postgres-" + POOL_SEQUENCE.incrementAndGet());
        hc.setDataSource(direct);
        hc.setMaximumPoolSize(b.poolSize);
        hc.setMinimumIdle(Math.min(b.poolSize, 2));
        hc.setAutoCommit(true);
        hc.setConnectionTimeout(b.connectionTimeout.toMillis());
        hc.setLeakDetectionThreshold(b.leakDetectionThreshold.toMillis());
        return new HikariDataSource(hc);
    }

}
