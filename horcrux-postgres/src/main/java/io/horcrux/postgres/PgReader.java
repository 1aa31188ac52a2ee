package io.horcrux.postgres;

import io.horcrux.StoreException;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The store's reads, each on a connection of the pool in auto-commit mode (one statement, one
 * snapshot), and the cursors of open streams. pgjdbc keeps the statements it has prepared per
 * connection, so a repeated read is parsed and planned once per connection.
 */
final class PgReader implements AutoCloseable {
    private final Connections connections;
    private final PgRows rows;
    private final int fetchSize;
    private final String where;
    private final Runnable ensureOpen;
    private final Set<PgCursor> cursors = ConcurrentHashMap.newKeySet();

    /** @param ensureOpen throws if the store is closed */
    PgReader(Connections connections, PgRows rows, int fetchSize, String where, Runnable ensureOpen) {
        this.connections = connections;
        this.rows = rows;
        this.fetchSize = fetchSize;
        this.where = where;
        this.ensureOpen = ensureOpen;
    }

    Optional<Vm> find(String id) {
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement(rows.find)) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(PgRows.read(rs)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw failure("reading VM " + id, e);
        }
    }

    Page<Vm> list(VmQuery query) {
        int limit = query.limit().orElse(VmQuery.DEFAULT_LIMIT);
        PgRows.Select select = rows.select(query, limit + 1);
        List<Vm> items = new ArrayList<>(Math.min(limit, 1024));
        boolean more = false;
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement(select.sql())) {
            select.bind(c, ps);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (items.size() == limit) {
                        more = true;
                        break;
                    }
                    items.add(PgRows.read(rs));
                }
            }
        } catch (SQLException e) {
            throw failure("listing VMs", e);
        }
        return new Page<>(items, more ? items.get(items.size() - 1).id() : null);
    }

    /** A server-side cursor over the matches, on a connection of its own; see {@link PostgresVmStore#stream}. */
    Stream<Vm> stream(VmQuery query) {
        PgRows.Select select = rows.select(query, query.limit().orElse(0));
        Connection c = null;
        PreparedStatement ps = null;
        try {
            c = connections.getConnection();
            c.setAutoCommit(false);
            ps = c.prepareStatement(select.sql(), ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY);
            ps.setFetchSize(fetchSize);
            select.bind(c, ps);
            ResultSet rs = ps.executeQuery();
            PgCursor[] self = new PgCursor[1];
            PgCursor cursor = new PgCursor(c, ps, rs, where, () -> cursors.remove(self[0]));
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
            StoreException failure = failure("streaming VMs", e);
            giveBack(c, ps, failure);
            throw failure;
        }
    }

    private static void giveBack(Connection c, PreparedStatement ps, Exception failure) {
        try {
            if (ps != null) {
                ps.close();
            }
            if (c != null) {
                try (c) {
                    if (!c.getAutoCommit()) {
                        c.rollback();
                        c.setAutoCommit(true);
                    }
                }
            }
        } catch (SQLException e) {
            failure.addSuppressed(e);
        }
    }

    long count(VmQuery query) {
        PgRows.Select select = rows.count(query);
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement(select.sql())) {
            select.bind(c, ps);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw failure("counting VMs", e);
        }
    }

    /** The stored ids among {@code distinct}: one query, the ids bound as one array. */
    Set<String> existingIds(List<String> distinct) {
        try (Connection c = connections.getConnection()) {
            return existingIds(c, rows, distinct);
        } catch (SQLException e) {
            throw failure("checking which ids exist", e);
        }
    }

    static Set<String> existingIds(Connection c, PgRows rows, List<String> ids) throws SQLException {
        Set<String> taken = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement(rows.existingIds)) {
            PgRows.bindIds(c, ps, ids);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    taken.add(rs.getString(1));
                }
            }
        }
        return Set.copyOf(taken);
    }

    /** The cursors of open streams, for tests. */
    List<PgCursor> openCursors() {
        return List.copyOf(cursors);
    }

    /** Closes open streams. */
    @Override
    public void close() {
        for (PgCursor cursor : List.copyOf(cursors)) {
            cursor.close();
        }
    }

    private StoreException failure(String operation, SQLException e) {
        return PgErrors.failure(where, operation, e);
    }
}
