package io.horcrux.postgres;

import io.horcrux.StoreException;
import io.horcrux.model.Vm;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Spliterator;
import java.util.function.Consumer;
import org.slf4j.LoggerFactory;

/**
 * A server-side cursor as a spliterator. It owns one connection, in a transaction
 * (pgjdbc fetches a result set {@code fetchSize} rows at a time only outside auto-commit), its
 * statement and its result set, and gives them back exactly once, on whichever comes first of
 * exhaustion, a failure while reading, an exception thrown by the stream's consumer,
 * {@link #close()} (the stream's close handler), or the store closing. Giving back ends the
 * transaction, which closes the cursor on the server, and restores auto-commit.
 */
final class PgCursor implements Spliterator<Vm>, AutoCloseable {
    private final Connection connection;
    private final PreparedStatement statement;
    private final ResultSet rows;
    private final String where;
    private final Runnable onClose;
    private boolean closed;

    PgCursor(Connection connection, PreparedStatement statement, ResultSet rows, String where, Runnable onClose) {
        this.connection = connection;
        this.statement = statement;
        this.rows = rows;
        this.where = where;
        this.onClose = onClose;
    }

    @Override
    public boolean tryAdvance(Consumer<? super Vm> action) {
        Vm vm;
        synchronized (this) {
            if (closed) {
                return false;
            }
            try {
                if (!rows.next()) {
                    close();
                    return false;
                }
                vm = PgRows.read(rows);
            } catch (SQLException e) {
                close();
                throw new StoreException(where + ": reading the inventory failed (" + e.getMessage() + ")", e);
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }
        try {
            action.accept(vm);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
        return true;
    }

    @Override
    public Spliterator<Vm> trySplit() {
        return null;
    }

    @Override
    public long estimateSize() {
        return Long.MAX_VALUE;
    }

    @Override
    public int characteristics() {
        return ORDERED | NONNULL | DISTINCT;
    }

    /** The cursor's connection, for tests that look at the server's side of it; while it is open. */
    synchronized Connection connection() {
        return connection;
    }

    /** Ends the transaction and gives the connection back. Idempotent and thread-safe. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (connection) {
            try (statement; rows) {
                // result set, then statement
            } finally {
                connection.rollback(); // nothing was written; ending the transaction closes the portal
                connection.setAutoCommit(true);
            }
        } catch (SQLException e) {
            LoggerFactory.getLogger(PostgresVmStore.class).warn("{}: closing a cursor failed", where, e);
        } finally {
            onClose.run();
        }
    }
}
