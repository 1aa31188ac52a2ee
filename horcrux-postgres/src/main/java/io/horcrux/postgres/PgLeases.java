package io.horcrux.postgres;

import io.horcrux.LeaseLostException;
import io.horcrux.StoreException;
import io.horcrux.model.Vm;
import io.horcrux.spi.HostLease;
import io.horcrux.spi.HostLeases;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The hosts' leases in {@code <schema>.hosts}: one row per host with its epoch (the fencing
 * token) and its expiry, always on the database's clock. The {@code vms_fence} trigger of the
 * schema refuses an insert or update whose {@code written_by}/{@code written_epoch} is not the
 * host's live epoch; deletes check the same in their WHERE. Which host a store serves is its
 * own business: a per-host advisory lock on the store's lock connection keeps two stores from
 * serving one host at once.
 */
final class PgLeases implements HostLeases {
    private static final Logger log = LoggerFactory.getLogger(PostgresVmStore.class);

    private final Connections connections;
    private final InventoryLock lock;
    private final PgRows rows;
    private final String hosts;
    private final String where;
    private final Runnable ensureOpen;
    private final AtomicReference<HostLease> bound = new AtomicReference<>();
    private final String schema;
    private final List<PgChangeFeed> feeds = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** @param schema the schema's name, already quoted */
    PgLeases(Connections connections, InventoryLock lock, PgRows rows, String schema, String where, Runnable ensureOpen) {
        this.connections = connections;
        this.lock = lock;
        this.rows = rows;
        this.hosts = schema + ".hosts";
        this.schema = schema;
        this.where = where;
        this.ensureOpen = ensureOpen;
    }

    /** The token this store's writes carry: the lease it took, or null before any. */
    HostLease token() {
        return bound.get();
    }

    @Override
    public HostLease acquire(String host, Duration ttl) {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(ttl, "ttl");
        if (!Vm.isHostName(host)) {
            throw new IllegalArgumentException("host '" + host + "' " + Vm.hostNameRule());
        }
        ensureOpen.run();
        HostLease held = bound.get();
        if (held != null && !held.host().equals(host)) {
            throw new IllegalStateException(where + ": this store serves host " + held.host() + ", not " + host);
        }
        lock.claimHost(host, where);
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement("INSERT INTO " + hosts
                + " (host, epoch, expires_at, acquired_at, renewed_at, released) VALUES (?, 1, now() + ? * interval"
                + " '1 microsecond', now(), now(), false) ON CONFLICT (host) DO UPDATE SET epoch = " + hosts + ".epoch + 1,"
                + " expires_at = EXCLUDED.expires_at, acquired_at = now(), renewed_at = now(), released = false"
                + " RETURNING epoch, expires_at")) {
            ps.setString(1, host);
            ps.setLong(2, micros(ttl));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                HostLease lease = new HostLease(host, rs.getLong(1), instant(rs, 2));
                bound.set(lease);
                log.info("{}: host {} took its lease, epoch {}", where, host, lease.epoch());
                return lease;
            }
        } catch (SQLException e) {
            throw PgErrors.failure(where, "taking the lease of host " + host, e);
        }
    }

    @Override
    public HostLease renew(Duration ttl) {
        Objects.requireNonNull(ttl, "ttl");
        ensureOpen.run();
        HostLease lease = requireBound();
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement("UPDATE " + hosts
                + " SET expires_at = now() + ? * interval '1 microsecond', renewed_at = now()"
                + " WHERE host = ? AND epoch = ? AND NOT released AND expires_at > clock_timestamp() RETURNING expires_at")) {
            ps.setLong(1, micros(ttl));
            ps.setString(2, lease.host());
            ps.setLong(3, lease.epoch());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    requireLive(c, rows, lease, where, "renewing the lease");
                    throw new LeaseLostException(where + ": the lease of host " + lease.host() + " could not be renewed");
                }
                HostLease renewed = new HostLease(lease.host(), lease.epoch(), instant(rs, 1));
                bound.compareAndSet(lease, renewed);
                return renewed;
            }
        } catch (SQLException e) {
            throw PgErrors.failure(where, "renewing the lease of host " + lease.host(), e);
        }
    }

    @Override
    public void release() {
        HostLease lease = bound.get();
        if (lease == null) {
            return;
        }
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement("UPDATE " + hosts
                + " SET expires_at = LEAST(expires_at, clock_timestamp()), released = true WHERE host = ? AND epoch = ?")) {
            ps.setString(1, lease.host());
            ps.setLong(2, lease.epoch());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw PgErrors.failure(where, "releasing the lease of host " + lease.host(), e);
        }
        lock.releaseHost();
        log.info("{}: host {} released its lease, epoch {}", where, lease.host(), lease.epoch());
    }

    @Override
    public List<HostLease> hosts() {
        ensureOpen.run();
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT host, epoch, expires_at FROM " + hosts + " ORDER BY host");
             ResultSet rs = ps.executeQuery()) {
            List<HostLease> all = new ArrayList<>();
            while (rs.next()) {
                all.add(new HostLease(rs.getString(1), rs.getLong(2), instant(rs, 3)));
            }
            return List.copyOf(all);
        } catch (SQLException e) {
            throw PgErrors.failure(where, "listing the hosts", e);
        }
    }

    @Override
    public List<Takeover> takeOver(Duration grace, UnaryOperator<Vm> change) {
        Objects.requireNonNull(grace, "grace");
        Objects.requireNonNull(change, "change");
        ensureOpen.run();
        HostLease me = requireBound();
        List<Takeover> taken = new ArrayList<>();
        try (Connection c = connections.getConnection()) {
            for (String dead : deadHosts(c, me.host(), grace)) {
                taken.addAll(takeOver(c, me, dead, grace, change));
            }
        } catch (SQLException e) {
            throw PgErrors.failure(where, "taking over the VMs of dead hosts", e);
        }
        return List.copyOf(taken);
    }

    @Override
    public AutoCloseable followChanges(Duration pollInterval, java.util.function.Consumer<io.horcrux.spi.StoredChange> listener) {
        Objects.requireNonNull(pollInterval, "pollInterval");
        Objects.requireNonNull(listener, "listener");
        ensureOpen.run();
        try {
            PgChangeFeed feed = new PgChangeFeed(connections, schema, where, pollInterval, listener);
            feeds.add(feed);
            return () -> {
                feeds.remove(feed);
                feed.close();
            };
        } catch (SQLException e) {
            throw PgErrors.failure(where, "following the changes", e);
        }
    }

    /** Stops every feed; the store is closing. */
    void closeFeeds() {
        feeds.forEach(PgChangeFeed::close);
        feeds.clear();
    }

    private List<String> deadHosts(Connection c, String me, Duration grace) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT host FROM " + hosts + " WHERE host <> ? AND NOT released"
                + " AND expires_at < clock_timestamp() - ? * interval '1 microsecond' ORDER BY host")) {
            ps.setString(1, me);
            ps.setLong(2, micros(grace));
            List<String> dead = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    dead.add(rs.getString(1));
                }
            }
            return dead;
        }
    }

    /**
     * One dead host's VMs, in one transaction: its lease row locked and checked again (it may
     * have come back), its VMs locked, each replaced with a version check and this host's token
     * (which the trigger checks), and the row marked as having nothing left to take.
     */
    private List<Takeover> takeOver(Connection c, HostLease me, String dead, Duration grace, UnaryOperator<Vm> change)
            throws SQLException {
        c.setAutoCommit(false);
        boolean committed = false;
        try {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + hosts + " WHERE host = ? AND NOT released"
                    + " AND expires_at < clock_timestamp() - ? * interval '1 microsecond' FOR UPDATE SKIP LOCKED")) {
                ps.setString(1, dead);
                ps.setLong(2, micros(grace));
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return List.of(); // back alive, or another host is taking it over now
                    }
                }
            }
            List<Vm> theirs = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(rows.ownedForUpdate)) {
                ps.setString(1, dead);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        theirs.add(PgRows.read(rs));
                    }
                }
            }
            List<Takeover> taken = new ArrayList<>();
            try (PreparedStatement update = c.prepareStatement(rows.update)) {
                for (Vm before : theirs) {
                    Vm after = change.apply(before);
                    if (!after.owner().equals(me.host()) || after.version() != before.version() + 1
                            || !after.id().equals(before.id())) {
                        throw new IllegalArgumentException("a VM taken over must keep its id, be owned by " + me.host()
                                + " and have the next version; was " + after);
                    }
                    PgRows.bindUpdate(update, after, before.version(), me);
                    if (update.executeUpdate() == 1) {
                        taken.add(new Takeover(before, after));
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + hosts + " SET released = true WHERE host = ?")) {
                ps.setString(1, dead);
                ps.executeUpdate();
            }
            c.commit();
            committed = true;
            log.warn("{}: host {} took over {} VM(s) of host {}, whose lease expired", where, me.host(), taken.size(), dead);
            return taken;
        } finally {
            try {
                if (!committed) {
                    c.rollback();
                }
            } finally {
                c.setAutoCommit(true);
            }
        }
    }

    private HostLease requireBound() {
        HostLease lease = bound.get();
        if (lease == null) {
            throw new IllegalStateException(where + ": no host lease was taken (acquire first)");
        }
        return lease;
    }

    /**
     * Throws a {@link LeaseLostException} saying why, when {@code lease} is no longer its host's
     * live lease; returns when it is.
     */
    static void requireLive(Connection c, PgRows rows, HostLease lease, String where, String operation)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(rows.leaseState)) {
            ps.setString(1, lease.host());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new LeaseLostException(where + ": " + operation + ": host " + lease.host() + " has no lease row");
                }
                long epoch = rs.getLong(1);
                boolean live = rs.getBoolean(2);
                if (epoch != lease.epoch()) {
                    throw new LeaseLostException(where + ": " + operation + " refused: the fencing token of host "
                            + lease.host() + " is stale (epoch " + lease.epoch() + ", the lease is at epoch " + epoch + ")");
                }
                if (!live) {
                    throw new LeaseLostException(where + ": " + operation + " refused: the lease of host " + lease.host()
                            + " (epoch " + epoch + ") has expired");
                }
            }
        }
    }

    private static long micros(Duration d) {
        return d.toNanos() / 1_000;
    }

    private static java.time.Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        if (t == null) {
            throw new StoreException("a lease row has no time in column " + column);
        }
        return t.toInstant();
    }
}
