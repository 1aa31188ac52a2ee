package io.horcrux.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.sqlite.SQLiteConnection;

/**
 * Prepared statements kept per physical reader connection: preparing costs about as much as a
 * primary-key read itself, and HikariCP caches none. Statements are prepared on the physical
 * connection (HikariCP would close those made through its proxy when the connection goes back
 * to the pool); a connection is used by one borrower at a time, so each statement is too.
 * At most {@value #PER_CONNECTION} SQL shapes per connection, least recently used evicted.
 */
final class ReaderStatements {
    private static final int PER_CONNECTION = 32;

    private final Map<Connection, Map<String, PreparedStatement>> byConnection = new ConcurrentHashMap<>();

    /** A statement for {@code sql} on the borrowed connection; never close it, close its result sets. */
    PreparedStatement prepare(Connection borrowed, String sql) throws SQLException {
        Connection physical = borrowed.unwrap(SQLiteConnection.class);
        Map<String, PreparedStatement> statements = byConnection.get(physical);
        if (statements == null) {
            forgetClosedConnections();
            statements = new LinkedHashMap<>(16, 0.75f, true) {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<String, PreparedStatement> eldest) {
                    if (size() > PER_CONNECTION) {
                        closeQuietly(eldest.getValue());
                        return true;
                    }
                    return false;
                }
            };
            byConnection.put(physical, statements);
        }
        synchronized (statements) {
            PreparedStatement ps = statements.get(sql);
            if (ps == null || ps.isClosed()) {
                ps = physical.prepareStatement(sql);
                statements.put(sql, ps);
            } else {
                ps.clearParameters();
            }
            return ps;
        }
    }

    private void forgetClosedConnections() {
        byConnection.keySet().removeIf(c -> {
            try {
                return c.isClosed();
            } catch (SQLException e) {
                return true;
            }
        });
    }

    /** Closes every cached statement; before the pool closes. */
    void closeAll() {
        for (Map<String, PreparedStatement> statements : byConnection.values()) {
            synchronized (statements) {
                statements.values().forEach(ReaderStatements::closeQuietly);
                statements.clear();
            }
        }
        byConnection.clear();
    }

    private static void closeQuietly(PreparedStatement ps) {
        try {
            ps.close();
        } catch (SQLException ignored) {
            // the connection is going away anyway
        }
    }
}
