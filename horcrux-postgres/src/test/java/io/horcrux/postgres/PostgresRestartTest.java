package io.horcrux.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.HorcruxException;
import io.horcrux.StoreException;
import io.horcrux.VmManager;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.SimulatedDriver;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The database restarted under load, on a PostgreSQL server of the test's own
 * ({@link DedicatedPostgres}): two hosts keep writing; no write that returned is lost, both
 * hosts go on working with the leases they had, and each one's subscribers hear the other's
 * changes again, caught up from the table of changes.
 */
class PostgresRestartTest {

    private static PostgresVmStore shared(DedicatedPostgres pg) {
        return PostgresVmStore.builder().jdbcUrl(pg.jdbcUrl()).user("horcrux").schema("restart").sharedByHosts(true)
                .connectionTimeout(Duration.ofSeconds(2)).build();
    }

    @Test
    void noAcknowledgedWriteIsLostAndEveryHostRecovers() throws Exception {
        try (DedicatedPostgres pg = DedicatedPostgres.start();
             VmManager a = VmManager.builder().store(shared(pg)).driver(SimulatedDriver.create()).host("host-a")
                     .leaseTtl(Duration.ofSeconds(20)).leaseRenewal(Duration.ofMillis(500)).build();
             VmManager b = VmManager.builder().store(shared(pg)).driver(SimulatedDriver.create()).host("host-b")
                     .leaseTtl(Duration.ofSeconds(20)).leaseRenewal(Duration.ofMillis(500)).build()) {
            BlockingQueue<VmEvent> heardByB = new LinkedBlockingQueue<>();
            b.subscribe(heardByB::add);
            Set<String> acknowledged = ConcurrentHashMap.newKeySet();
            AtomicInteger refused = new AtomicInteger();
            AtomicBoolean writing = new AtomicBoolean(true);
            List<Thread> writers = new ArrayList<>();
            for (VmManager host : List.of(a, b)) {
                Thread t = new Thread(() -> {
                    for (int i = 0; writing.get(); i++) {
                        String id = host.host() + "-" + i;
                        try {
                            host.create(VmSpec.builder().id(id).memoryMiB(64).build());
                            acknowledged.add(id);
                        } catch (HorcruxException e) {
                            refused.incrementAndGet(); // not acknowledged: may or may not be stored
                        }
                    }
                });
                t.start();
                writers.add(t);
            }
            awaitAtLeast(acknowledged, 50);
            pg.restart();
            int atRestart = acknowledged.size();
            awaitAtLeast(acknowledged, atRestart + 50);
            writing.set(false);
            for (Thread t : writers) {
                t.join(30_000);
            }

            for (String id : acknowledged) {
                assertThat(b.find(id)).as("acknowledged write " + id).isPresent();
            }
            assertThat(b.count(VmQuery.all())).isGreaterThanOrEqualTo(acknowledged.size());

            // Both hosts work on, under the leases they took before the restart.
            a.create(VmSpec.builder().id("after").memoryMiB(64).build());
            assertThat(a.start("after").status()).isEqualTo(VmStatus.RUNNING);
            VmEvent heard = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (heard == null && System.nanoTime() < deadline) {
                VmEvent e = heardByB.poll(1, TimeUnit.SECONDS);
                if (e != null && e.vmId().equals("after") && e.newStatus() == VmStatus.RUNNING) {
                    heard = e;
                }
            }
            assertThat(heard).as("b hears a's change after the restart").isNotNull();
            assertThat(b.get("after").owner()).isEqualTo("host-a");
            assertThat(b.create(VmSpec.builder().id("after-b").memoryMiB(64).build()).owner()).isEqualTo("host-b");

            // The advisory locks died with their sessions; each store took its own again, so the
            // inventory and the hosts are claimed as before the restart.
            awaitLocks(pg, 2, 2);
            assertThatThrownBy(() -> PostgresVmStore.builder().jdbcUrl(pg.jdbcUrl()).user("horcrux").schema("restart")
                    .build().close())
                    .isInstanceOf(StoreException.class).hasMessageContaining("in use by another PostgresVmStore");
            try (PostgresVmStore third = shared(pg)) {
                assertThatThrownBy(() -> VmManager.builder().store(third).driver(SimulatedDriver.create()).host("host-a")
                        .build().close())
                        .isInstanceOf(StoreException.class).hasMessageContaining("host host-a is served by another open store");
            }
        }
    }

    /**
     * A store whose lock another store took while its session was down (it opened in the moment
     * between the restart and the retake) writes nothing more, and says why; it still reads.
     */
    @Test
    void aStoreWhoseLockWentToAnotherStoreWritesNothingMore() throws Exception {
        try (DedicatedPostgres pg = DedicatedPostgres.start()) {
            PostgresVmStore.Builder slow = PostgresVmStore.builder().jdbcUrl(pg.jdbcUrl()).user("horcrux").schema("restart")
                    .sharedByHosts(true).connectionTimeout(Duration.ofSeconds(2));
            slow.lockCheck = Duration.ofHours(1); // no retake but the one this test asks for
            try (PostgresVmStore store = slow.build()) {
                store.hostLeases().orElseThrow().acquire("host-a", Duration.ofSeconds(30));
                store.insert(ownedByA("before"));
                pg.restart();
                awaitLocks(pg, 0, 0);
                try (PostgresVmStore alone = PostgresVmStore.builder().jdbcUrl(pg.jdbcUrl()).user("horcrux")
                        .schema("restart").build()) {
                    store.inventoryLock().check();
                    assertThatThrownBy(() -> store.insert(ownedByA("refused")))
                            .isInstanceOf(StoreException.class).hasMessageContaining("another store took the inventory's lock")
                            .hasMessageContaining("writes nothing more");
                    assertThatThrownBy(() -> store.hostLeases().orElseThrow().renew(Duration.ofSeconds(30)))
                            .isInstanceOf(StoreException.class);
                    assertThat(findAfterRestart(store, "before")).isPresent();
                    alone.insert(SampleVms.vm("by-the-other"));
                }
                store.inventoryLock().check();
                assertThatThrownBy(() -> store.delete("before", 1)).as("lost for good")
                        .isInstanceOf(StoreException.class).hasMessageContaining("writes nothing more");
                io.horcrux.model.Snapshot snap = new io.horcrux.model.Snapshot("s1", java.util.Optional.empty(),
                        java.time.Instant.EPOCH, false, true, io.horcrux.model.VmStatus.STOPPED);
                assertThatThrownBy(() -> store.insertSnapshot("before", snap)).as("nor a snapshot")
                        .isInstanceOf(StoreException.class).hasMessageContaining("writes nothing more");
                assertThatThrownBy(() -> store.recordSnapshotIntent(new io.horcrux.spi.SnapshotIntent("before",
                        io.horcrux.spi.SnapshotIntent.Operation.TAKE, snap, java.time.Instant.EPOCH)))
                        .as("nor a journal entry").isInstanceOf(StoreException.class)
                        .hasMessageContaining("writes nothing more");
                assertThat(store.snapshots("before")).isEmpty();
                assertThat(findAfterRestart(store, "refused")).isEmpty();
            }
        }
    }

    /**
     * A read through the store's pool, which may still hand out a connection the restart cut
     * (HikariCP checks one only after half a second idle): that one fails and is evicted, and the
     * read is tried again, up to five times.
     */
    private static java.util.Optional<io.horcrux.model.Vm> findAfterRestart(PostgresVmStore store, String id) {
        for (int attempt = 1; ; attempt++) {
            try {
                return store.find(id);
            } catch (StoreException e) {
                if (attempt == 5) {
                    throw e;
                }
            }
        }
    }

    private static io.horcrux.model.Vm ownedByA(String id) {
        io.horcrux.model.Vm vm = SampleVms.vm(id);
        return new io.horcrux.model.Vm(vm.spec(), vm.status(), 1, SampleVms.T0, SampleVms.T0, "", null, "host-a");
    }

    /** Waits until the dedicated server lists the inventory's and the hosts' advisory locks as granted so many times. */
    private static void awaitLocks(DedicatedPostgres pg, int inventory, int hosts) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), "horcrux", null);
             PreparedStatement ps = c.prepareStatement("SELECT count(*) FILTER (WHERE classid = ?::oid),"
                     + " count(*) FILTER (WHERE classid = ?::oid) FROM pg_locks WHERE locktype = 'advisory' AND granted")) {
            ps.setLong(1, InventoryLock.CLASS & 0xffffffffL);
            ps.setLong(2, InventoryLock.HOST_CLASS & 0xffffffffL);
            while (true) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getInt(1) == inventory && rs.getInt(2) == hosts) {
                        return;
                    }
                    assertThat(System.nanoTime()).as("waiting for %d inventory and %d host locks; now %d and %d",
                            inventory, hosts, rs.getInt(1), rs.getInt(2)).isLessThan(deadline);
                }
                Thread.sleep(100);
            }
        }
    }

    private static void awaitAtLeast(Set<String> acknowledged, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (acknowledged.size() < n) {
            assertThat(System.nanoTime()).as("waiting for " + n + " acknowledged creates").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
