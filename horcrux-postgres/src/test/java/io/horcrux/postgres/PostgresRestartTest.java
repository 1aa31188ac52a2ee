package io.horcrux.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.HorcruxException;
import io.horcrux.VmManager;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.SimulatedDriver;
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
