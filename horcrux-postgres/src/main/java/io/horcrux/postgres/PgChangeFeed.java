package io.horcrux.postgres;

import io.horcrux.model.VmStatus;
import io.horcrux.spi.StoredChange;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows {@code <schema>.vm_events} for one listener: a thread that holds a connection which
 * {@code LISTEN}s on {@code horcrux_events}, waits for a notification or the poll interval,
 * then reads the events after the last one it delivered. Notifications are only a wake-up: a
 * lost connection loses them, and the next read from the table catches up.
 *
 * <p>Sequence numbers are taken when a row is written, not when its transaction commits, so a
 * reader may see number 11 committed before number 10. The feed delivers in sequence without
 * holes: at a hole it waits (up to {@link #HOLE_PATIENCE}) for the missing number to commit,
 * and only then takes it for a rolled-back transaction's and moves past it. Events of one VM
 * are written under that VM's row lock, so they commit in sequence order.
 */
final class PgChangeFeed implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PostgresVmStore.class);
    /** How long a hole in the sequence may stay before it is taken for a rollback's. */
    static final Duration HOLE_PATIENCE = Duration.ofSeconds(2);
    private static final int BATCH = 500;
    /** How long the table keeps events, for hosts that were away. */
    static final Duration KEPT = Duration.ofHours(1);
    private long prunedAt = System.nanoTime();

    private final Connections connections;
    private final String events;
    private final String where;
    private final long pollMillis;
    private final Consumer<StoredChange> listener;
    private final Thread thread;
    private volatile boolean closed;
    private long last;
    private long holeSince; // nanoTime when the current hole was first seen, 0 when none

    PgChangeFeed(Connections connections, String schema, String where, Duration poll, Consumer<StoredChange> listener)
            throws SQLException {
        this.connections = connections;
        this.events = schema + ".vm_events";
        this.where = where;
        this.pollMillis = Math.max(1, poll.toMillis());
        this.listener = listener;
        try (Connection c = connections.getConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT coalesce(max(seq), 0) FROM " + events)) {
            rs.next();
            last = rs.getLong(1);
        }
        thread = new Thread(this::run, "horcrux-postgres-changes");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        while (!closed) {
            try (Connection c = connections.getConnection()) {
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN horcrux_events");
                }
                PGConnection pg = c.unwrap(PGConnection.class);
                while (!closed) {
                    readOn(c);
                    prune(c);
                    pg.getNotifications((int) pollMillis);
                }
                try (Statement s = c.createStatement()) {
                    s.execute("UNLISTEN horcrux_events");
                }
            } catch (SQLException | RuntimeException e) {
                if (closed) {
                    return;
                }
                log.warn("{}: following the changes of other hosts failed ({}); reconnecting, and reading on from"
                        + " change {}", where, e.getMessage(), last);
                sleep(Math.min(pollMillis, 250));
            }
        }
    }

    /** Delivers the committed events after {@link #last}, stopping at a hole that is still young. */
    private void readOn(Connection c) throws SQLException {
        boolean more = true;
        while (more && !closed) {
            more = false;
            try (PreparedStatement ps = c.prepareStatement("SELECT seq, vm_id, version, previous_status, status, reason,"
                    + " previous_owner, owner, written_by, at FROM " + events + " WHERE seq > ? ORDER BY seq LIMIT " + BATCH)) {
                ps.setLong(1, last);
                try (ResultSet rs = ps.executeQuery()) {
                    int read = 0;
                    while (rs.next()) {
                        read++;
                        long seq = rs.getLong(1);
                        if (seq != last + 1 && !holeExpired()) {
                            return; // wait for the missing number to commit
                        }
                        holeSince = 0;
                        last = seq;
                        deliver(new StoredChange(seq, rs.getString(2), rs.getLong(3), status(rs.getString(4)),
                                status(rs.getString(5)), rs.getString(6), rs.getString(7), rs.getString(8),
                                rs.getString(9), PgRows.instant(rs.getLong(10))));
                    }
                    more = read == BATCH;
                }
            }
        }
    }

    /** Every few minutes, drops events older than {@link #KEPT}: a host away longer misses them. */
    private void prune(Connection c) throws SQLException {
        long now = System.nanoTime();
        if (now - prunedAt < Duration.ofMinutes(5).toNanos()) {
            return;
        }
        prunedAt = now;
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + events + " WHERE recorded_at < now() - ?"
                + " * interval '1 second'")) {
            ps.setLong(1, KEPT.toSeconds());
            ps.executeUpdate();
        }
    }

    private boolean holeExpired() {
        long now = System.nanoTime();
        if (holeSince == 0) {
            holeSince = now;
            return false;
        }
        return now - holeSince > HOLE_PATIENCE.toNanos();
    }

    private void deliver(StoredChange change) {
        try {
            listener.accept(change);
        } catch (RuntimeException e) {
            log.warn("VM {}: a listener of changes failed on change {}", change.vmId(), change.sequence(), e);
        }
    }

    private static VmStatus status(String name) {
        return name == null ? null : VmStatus.valueOf(name);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
