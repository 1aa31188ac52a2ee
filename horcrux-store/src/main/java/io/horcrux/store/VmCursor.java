package io.horcrux.store;

import io.horcrux.StoreException;
import io.horcrux.model.Vm;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Spliterator;
import java.util.function.Consumer;

/**
 * A database cursor as a spliterator: it owns one reader connection, its statement and result
 * set, and gives them back exactly once, on whichever comes first of exhaustion, a failure
 * while reading, an exception thrown by the stream's consumer, {@link #close()} (the stream's
 * close handler), or the store closing.
 */
final class VmCursor implements Spliterator<Vm>, AutoCloseable {
    private final Connection connection;
    private final PreparedStatement statement;
    private final ResultSet rows;
    private final SpecMemo specs;
    private final String where;
    private final Runnable onClose;
    private boolean closed;

    VmCursor(Connection connection, PreparedStatement statement, ResultSet rows, SpecMemo specs, String where,
             Runnable onClose) {
        this.connection = connection;
        this.statement = statement;
        this.rows = rows;
        this.specs = specs;
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
                vm = VmRows.read(rows, specs);
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

    /** Gives the connection back to the pool. Idempotent and thread-safe. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try (connection; statement; rows) {
            // closing in reverse order: result set, statement, connection
        } catch (SQLException e) {
            org.slf4j.LoggerFactory.getLogger(SqliteVmStore.class)
                    .warn("{}: closing a cursor failed", where, e);
        } finally {
            onClose.run();
        }
    }
}
