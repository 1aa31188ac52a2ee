package io.horcrux;

import io.horcrux.model.Vm;
import io.horcrux.spi.HostLease;
import io.horcrux.spi.HostLeases;
import io.horcrux.spi.VmDriver;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds this host's lease on a shared store: takes it when the manager opens, renews it every
 * renewal period (the heartbeat), takes over the VMs of hosts whose lease expired more than the
 * grace ago, and fences the host when the lease cannot be kept.
 *
 * <p>Fencing is measured on the monotonic clock: the lease the database granted at a renewal
 * lasts at least {@code ttl} from the moment that renewal was sent, so a host that has not
 * renewed for {@code ttl - renewal} since then force-stops every VM its driver runs, while its
 * lease is still live in the database; nobody may take them before the lease expired plus the
 * grace. A watch thread of its own checks the deadline, so a renewal stuck on a dead connection
 * cannot delay the fence. Starts run inside {@link #whileHolding}: none begins once the host is
 * fenced, and the fence waits for those in flight and stops them too.
 *
 * <p>The fence outside the JVM, the {@link WatchdogFeed watchdog}, learns of a VM's process
 * before its driver forks it: {@link #whileHolding} feeds it the VM's
 * {@linkplain VmDriver#fencingMark fencing mark} first, so a JVM frozen or killed between the
 * fork and the return of the start (when the pid is not known yet) still has that process
 * killed at the deadline. Naming the process by an argument it will carry was chosen over
 * telling the watchdog the pid right after the fork: no instant remains between the fork and
 * the feed at which a freeze leaves the process unknown.
 */
final class LeaseKeeper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final HostLeases leases;
    private final VmDriver driver;
    private final String host;
    private final long ttlNanos;
    private final long renewalNanos;
    private final Duration ttl;
    private final Duration grace;
    private final UnaryOperator<Vm> takeoverChange;
    private final Consumer<List<HostLeases.Takeover>> takenOver;
    private final Runnable regained;
    private final LongSupplier nanoTime = System::nanoTime;
    private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
    private final Set<String> run = ConcurrentHashMap.newKeySet();
    /** The driver's fencing marks of the VMs in {@link #run}, fed to the watchdog before each start forks. */
    private final java.util.Map<String, String> marks = new ConcurrentHashMap<>();
    private final Object feeding = new Object();
    private final ScheduledExecutorService heartbeat = daemon("horcrux-lease-heartbeat");
    private final ScheduledExecutorService watch = daemon("horcrux-lease-watch");
    private volatile long renewedAtNanos;
    private volatile boolean fenced;
    private volatile HostLease lease;
    private volatile WatchdogFeed watchdog;

    /**
     * @param takeoverChange what a VM taken over becomes (owned by this host, next version)
     * @param takenOver      told of each round of takeovers, after they are stored
     * @param regained       run after the lease was taken anew following a fence
     */
    LeaseKeeper(HostLeases leases, VmDriver driver, VmManager.Builder b, UnaryOperator<Vm> takeoverChange,
                Consumer<List<HostLeases.Takeover>> takenOver, Runnable regained) {
        this.leases = leases;
        this.driver = driver;
        this.host = b.host;
        this.ttl = b.leaseTtl;
        this.ttlNanos = b.leaseTtl.toNanos();
        this.renewalNanos = b.leaseRenewal.toNanos();
        this.grace = b.takeoverGrace;
        this.takeoverChange = takeoverChange;
        this.takenOver = takenOver;
        this.regained = regained;
    }

    private static ScheduledExecutorService daemon(String name) {
        ScheduledThreadPoolExecutor pool = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
        pool.setRemoveOnCancelPolicy(true);
        return pool;
    }

    /** Takes the lease and starts the heartbeat and the watch. */
    void open() {
        long sent = nanoTime.getAsLong();
        lease = leases.acquire(host, ttl);
        renewedAtNanos = sent;
        log.info("host {}: took its lease, epoch {}, until {}", host, lease.epoch(), lease.expiresAt());
        watchdog = WatchdogFeed.start(host, deadline());
        heartbeat.scheduleWithFixedDelay(this::beat, renewalNanos, renewalNanos, TimeUnit.NANOSECONDS);
        long every = Math.max(Duration.ofMillis(10).toNanos(), Math.min(renewalNanos / 4, Duration.ofMillis(100).toNanos()));
        watch.scheduleAtFixedRate(this::checkDeadline, every, every, TimeUnit.NANOSECONDS);
    }

    /** The lease as last granted. */
    HostLease lease() {
        return lease;
    }

    /** Whether the host has fenced itself and not yet taken a new lease. */
    boolean fenced() {
        return fenced;
    }

    /**
     * Runs a driver call that starts a VM's process while the lease is held: refused once the
     * host is fenced, and a fence waits for it to end (and then stops what it started).
     *
     * @throws LeaseLostException if the host is fenced or its fencing deadline has passed
     */
    <T> T whileHolding(String vmId, Supplier<T> start) {
        gate.readLock().lock();
        try {
            requireHeld();
            run.add(vmId);
            // Before the driver forks anything: a JVM frozen or killed between the fork and the
            // return of the start leaves a process the watchdog cannot know by its pid, but finds
            // by its mark. The feed is written (renamed into place) before start.get() runs.
            if (mark(vmId)) {
                feedWatchdog();
            }
            T started = start.get();
            feedWatchdog();
            return started;
        } finally {
            gate.readLock().unlock();
        }
    }

    /** A VM whose process this host runs (reattached), for the fence to stop. */
    void running(String vmId) {
        run.add(vmId);
        mark(vmId);
        feedWatchdog();
    }

    /** Remembers the VM's fencing mark, if its driver has one; true if it has one. */
    private boolean mark(String vmId) {
        java.util.Optional<String> mark;
        try {
            mark = driver.fencingMark(vmId);
        } catch (RuntimeException e) {
            log.warn("VM {}: no fencing mark from the driver; its watchdog knows its process only once started", vmId, e);
            return false;
        }
        if (mark.isEmpty()) {
            return false;
        }
        String m = mark.get();
        if (m.isEmpty() || m.indexOf('\n') >= 0 || m.indexOf('\r') >= 0) {
            log.warn("VM {}: the driver's fencing mark is empty or holds a line break; not fed to the watchdog", vmId);
            return false;
        }
        marks.put(vmId, m);
        return true;
    }

    /** The monotonic time at which this host fences itself unless it renews first. */
    private long deadline() {
        return renewedAtNanos + ttlNanos - renewalNanos;
    }

    /** Tells the watchdog the deadline and the processes of the VMs this host runs. */
    private void feedWatchdog() {
        WatchdogFeed feed = watchdog;
        if (feed == null) {
            return;
        }
        // One feed at a time, each read and written under the lock: a feed computed before a
        // mark was added never lands after the one that carries it. (Not on this object, whose
        // monitor a fence holds while it waits for the starts in flight, which feed.)
        synchronized (feeding) {
            List<Long> pids = new java.util.ArrayList<>();
            for (String id : run) {
                try {
                    driver.runtime(id).map(r -> r.pid()).filter(pid -> pid > 0).ifPresent(pids::add);
                } catch (RuntimeException e) {
                    log.debug("VM {}: no runtime facts for the watchdog", id, e);
                }
            }
            feed.feed(fenced ? nanoTime.getAsLong() : deadline(), pids, List.copyOf(new java.util.TreeSet<>(marks.values())));
        }
    }

    /** @throws LeaseLostException if the host is fenced or its fencing deadline has passed */
    void requireHeld() {
        if (fenced || pastDeadline()) {
            throw new LeaseLostException("host '" + host + "' does not hold its lease (it fenced itself: the lease"
                    + " could not be renewed in time); it changes nothing until it takes a new one");
        }
    }

    private boolean pastDeadline() {
        return nanoTime.getAsLong() - renewedAtNanos > ttlNanos - renewalNanos;
    }

    private void beat() {
        long sent = nanoTime.getAsLong();
        if (fenced) {
            try {
                lease = leases.acquire(host, ttl);
                renewedAtNanos = sent;
                fenced = false;
                feedWatchdog();
                log.warn("host {}: took a new lease after fencing itself, epoch {}", host, lease.epoch());
                regained.run();
            } catch (RuntimeException e) {
                log.warn("host {}: still fenced, cannot take a new lease yet: {}", host, e.getMessage());
            }
            return;
        }
        try {
            lease = leases.renew(ttl);
            if (!fenced) {
                renewedAtNanos = sent;
                feedWatchdog();
            }
        } catch (LeaseLostException e) {
            fence("the database refused the renewal: " + e.getMessage());
            return;
        } catch (RuntimeException e) {
            log.warn("host {}: could not renew its lease (it fences itself {} ms after the last renewal): {}", host,
                    Duration.ofNanos(ttlNanos - renewalNanos).toMillis(), e.getMessage());
            return;
        }
        try {
            List<HostLeases.Takeover> taken = leases.takeOver(grace, takeoverChange);
            if (!taken.isEmpty()) {
                taken.forEach(t -> {
                    run.remove(t.after().id());
                    marks.remove(t.after().id());
                });
                takenOver.accept(taken);
            }
        } catch (LeaseLostException e) {
            fence("the database refused a takeover with this host's token: " + e.getMessage());
        } catch (RuntimeException e) {
            log.warn("host {}: looking for VMs of dead hosts failed: {}", host, e.getMessage());
        }
    }

    private void checkDeadline() {
        if (!fenced && pastDeadline()) {
            fence("no renewal for " + Duration.ofNanos(nanoTime.getAsLong() - renewedAtNanos).toMillis()
                    + " ms, lease time to live " + Duration.ofNanos(ttlNanos).toMillis() + " ms");
        }
    }

    /** Force-stops every VM this host's driver runs, before anyone may take them over. */
    private synchronized void fence(String why) {
        if (fenced) {
            return;
        }
        fenced = true;
        log.error("host {}: fencing itself ({}): force-stopping its VMs", host, why);
        stopAll();
        gate.writeLock().lock(); // starts in flight end first, then whatever they started stops too
        try {
            stopAll();
        } finally {
            gate.writeLock().unlock();
        }
    }

    private void stopAll() {
        Set<String> ids = new java.util.TreeSet<>(run);
        try {
            ids.addAll(driver.provisionedIds());
        } catch (RuntimeException e) {
            log.warn("host {}: could not list what its driver provisioned while fencing", host, e);
        }
        for (String id : ids) {
            try {
                if (driver.status(id).isActive()) {
                    driver.stop(id, Duration.ZERO);
                    log.warn("VM {}: force-stopped, host {} fenced itself", id, host);
                }
            } catch (RuntimeException e) {
                log.error("VM {}: could not force-stop it while host {} fences itself", id, host, e);
            }
        }
    }

    /**
     * Stops the heartbeat and the watch. With {@code release} the lease ends now, so another
     * host may take over at once; the manager releases only when none of its VMs runs.
     */
    void close(boolean release) {
        heartbeat.shutdownNow();
        watch.shutdownNow();
        try {
            heartbeat.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        WatchdogFeed feed = watchdog;
        if (feed != null && release) {
            feed.close();
        }
        if (release && !fenced) {
            try {
                leases.release();
                log.info("host {}: released its lease", host);
            } catch (RuntimeException e) {
                log.warn("host {}: could not release its lease; it expires by itself", host, e);
            }
        }
    }

    @Override
    public void close() {
        close(false);
    }
}
