package io.horcrux.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.HostNotFoundException;
import io.horcrux.IllegalVmStateException;
import io.horcrux.LeaseLostException;
import io.horcrux.StoreException;
import io.horcrux.VmManager;
import io.horcrux.VmOwnedElsewhereException;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.HostLease;
import io.horcrux.testkit.SimulatedDriver;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Several managers as several hosts on one PostgreSQL inventory, in one JVM with simulated
 * drivers: ownership across hosts, moves, fencing when the lease is lost, takeover of a dead
 * host's VMs, and the database's refusal of a stale token. The three-JVM tests with real QEMU
 * processes are {@code io.horcrux.reliability.SeveralHostsIT} in {@code examples}.
 */
class PostgresHostsTest {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    private String schema;
    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeEach
    void newInventory() {
        schema = db.newSchema("hosts");
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
    }

    private PostgresVmStore sharedStore() {
        PostgresVmStore store = PostgresVmStore.builder().jdbcUrl(db.jdbcUrl()).user(db.user()).password(db.password())
                .schema(schema).sharedByHosts(true).build();
        opened.add(store);
        return store;
    }

    private VmManager host(String name, SimulatedDriver driver, Duration ttl, Duration renewal, Duration grace) {
        VmManager manager = VmManager.builder().store(sharedStore()).driver(driver).host(name).leaseTtl(ttl)
                .leaseRenewal(renewal).takeoverGrace(grace).build();
        opened.add(manager);
        return manager;
    }

    private VmManager host(String name, SimulatedDriver driver) {
        return host(name, driver, Duration.ofSeconds(30), Duration.ofSeconds(1), Duration.ofSeconds(5));
    }

    private static VmSpec spec(String id) {
        return VmSpec.builder().id(id).memoryMiB(64).build();
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    @Test
    void hostsListEachOthersVmsRunOnlyTheirOwnAndMoveStoppedOnes() {
        SimulatedDriver driverA = SimulatedDriver.create();
        SimulatedDriver driverB = SimulatedDriver.create();
        VmManager a = host("host-a", driverA);
        VmManager b = host("host-b", driverB);

        Vm web = a.create(spec("web-1"));
        b.create(spec("db-1"));
        assertThat(web.owner()).isEqualTo("host-a");
        assertThat(b.get("web-1")).isEqualTo(web);
        assertThat(a.list(VmQuery.all()).items()).extracting(Vm::id, Vm::owner).containsExactly(
                org.assertj.core.groups.Tuple.tuple("db-1", "host-b"), org.assertj.core.groups.Tuple.tuple("web-1", "host-a"));
        assertThat(b.count(VmQuery.all())).isEqualTo(2);

        assertThatThrownBy(() -> b.start("web-1")).isInstanceOf(VmOwnedElsewhereException.class)
                .hasMessageContaining("host-a");
        a.start("web-1");
        assertThat(b.get("web-1").status()).as("b reads a's write").isEqualTo(VmStatus.RUNNING);
        assertThatThrownBy(() -> b.moveTo("web-1", "host-b")).isInstanceOf(IllegalVmStateException.class);
        assertThatThrownBy(() -> b.moveTo("db-1", "host-z")).isInstanceOf(HostNotFoundException.class)
                .hasMessageContaining("host-a").hasMessageContaining("host-b");
        a.stop("web-1", Duration.ZERO);

        Vm moved = b.moveTo("web-1", "host-b");
        assertThat(moved.owner()).isEqualTo("host-b");
        assertThat(a.get("web-1")).isEqualTo(moved);
        assertThatThrownBy(() -> a.start("web-1")).isInstanceOf(VmOwnedElsewhereException.class);
        assertThat(b.start("web-1").status()).as("provisioned on b, where it came without disks")
                .isEqualTo(VmStatus.RUNNING);
        assertThat(driverB.status("web-1")).isEqualTo(VmStatus.RUNNING);
        assertThat(driverA.status("web-1")).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void anotherHostsStatusChangesReachThisHostsSubscribersInOrder() throws InterruptedException {
        VmManager a = host("host-a", SimulatedDriver.create());
        VmManager b = host("host-b", SimulatedDriver.create());
        BlockingQueue<VmEvent> heard = new LinkedBlockingQueue<>();
        b.subscribe(heard::add);
        a.create(spec("web-1"));
        a.start("web-1");
        a.pause("web-1");
        a.resume("web-1");
        a.stop("web-1", Duration.ZERO);

        List<String> moves = new ArrayList<>();
        while (moves.size() < 7) {
            VmEvent e = heard.poll(30, TimeUnit.SECONDS);
            assertThat(e).as("b hears a's changes; so far " + moves).isNotNull();
            assertThat(e.vmId()).isEqualTo("web-1");
            moves.add(e.kind() == VmEvent.Kind.CREATED ? "CREATED" : e.previousStatus() + ">" + e.newStatus());
        }
        assertThat(moves).containsExactly("CREATED", "STOPPED>STARTING", "STARTING>RUNNING", "RUNNING>PAUSED", "PAUSED>RUNNING",
                "RUNNING>STOPPING", "STOPPING>STOPPED");
        assertThat(b.get("web-1").version()).isEqualTo(7);
        assertThat(heard.poll(1, TimeUnit.SECONDS)).as("each once, and b's own writes are not relayed").isNull();
    }

    @Test
    void anotherHostsCreatesMovesAndDeletesReachThisHostsSubscribersAsSuch() throws InterruptedException {
        VmManager a = host("host-a", SimulatedDriver.create());
        VmManager b = host("host-b", SimulatedDriver.create());
        BlockingQueue<VmEvent> heardByA = new LinkedBlockingQueue<>();
        BlockingQueue<VmEvent> heardByB = new LinkedBlockingQueue<>();
        a.subscribe(heardByA::add);
        b.subscribe(heardByB::add);

        Vm created = b.create(spec("db-1"));
        VmEvent ownCreate = next(heardByB, "b's own create");
        VmEvent relayedCreate = next(heardByA, "b's create, heard by a");
        for (VmEvent e : List.of(ownCreate, relayedCreate)) {
            assertThat(e.kind()).isEqualTo(VmEvent.Kind.CREATED);
            assertThat(e.vmId()).isEqualTo("db-1");
            assertThat(e.newStatus()).isEqualTo(VmStatus.STOPPED);
            assertThat(e.version()).isEqualTo(created.version());
        }

        a.moveTo("db-1", "host-a");
        VmEvent ownMove = next(heardByA, "a's own move");
        VmEvent relayedMove = next(heardByB, "a's move, heard by b");
        for (VmEvent e : List.of(ownMove, relayedMove)) {
            assertThat(e.kind()).isEqualTo(VmEvent.Kind.MOVED);
            assertThat(e.subject()).contains("host-a");
            assertThat(e.previousStatus()).isEqualTo(VmStatus.STOPPED).isEqualTo(e.newStatus());
        }

        // Moved by a, deleted by its new owner b: a must hear the delete even though a wrote the row last.
        a.create(spec("web-1"));
        next(heardByA, "a's create");
        next(heardByB, "a's create, heard by b");
        a.moveTo("web-1", "host-b");
        next(heardByA, "a's move");
        next(heardByB, "a's move, heard by b");
        b.delete("web-1");
        VmEvent ownDelete = next(heardByB, "b's own delete");
        VmEvent relayedDelete = next(heardByA, "b's delete, heard by a");
        for (VmEvent e : List.of(ownDelete, relayedDelete)) {
            assertThat(e.kind()).isEqualTo(VmEvent.Kind.DELETED);
            assertThat(e.vmId()).isEqualTo("web-1");
        }
        assertThat(a.find("web-1")).isEmpty();
        assertThat(heardByA.poll(1, TimeUnit.SECONDS)).as("each once on a").isNull();
        assertThat(heardByB.poll(1, TimeUnit.SECONDS)).as("each once on b").isNull();
    }

    private static VmEvent next(BlockingQueue<VmEvent> heard, String what) throws InterruptedException {
        VmEvent e = heard.poll(30, TimeUnit.SECONDS);
        assertThat(e).as(what).isNotNull();
        return e;
    }

    @Test
    void aStaleTokenIsRefusedByTheDatabaseItself() throws SQLException {
        PostgresVmStore store = sharedStore();
        HostLease first = store.hostLeases().orElseThrow().acquire("host-a", Duration.ofMinutes(1));
        store.insert(new Vm(spec("web-1"), VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null, "host-a"));
        HostLease second = store.hostLeases().orElseThrow().acquire("host-a", Duration.ofMinutes(1));
        assertThat(second.epoch()).isEqualTo(first.epoch() + 1);

        try (Connection c = db.connect(); Statement s = c.createStatement()) {
            // The same statement a store sends, with the old epoch, straight to the server.
            assertThatThrownBy(() -> s.executeUpdate("UPDATE " + schema + ".vms SET status = 'STARTING', version = 2,"
                    + " written_by = 'host-a', written_epoch = " + first.epoch() + " WHERE id = 'web-1'"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("stale fencing token")
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("HX001"));
            assertThatThrownBy(() -> s.executeUpdate("INSERT INTO " + schema + ".vms (id, name, status, version,"
                    + " created_at, updated_at, status_reason, spec_json, owner, written_by, written_epoch)"
                    + " SELECT 'web-2', name, status, 1, 0, 0, '', spec_json, owner, 'host-a', " + first.epoch()
                    + " FROM " + schema + ".vms WHERE id = 'web-1'"))
                    .isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("HX001"));
            assertThat(s.executeUpdate("UPDATE " + schema + ".vms SET status_reason = 'current token',"
                    + " written_by = 'host-a', written_epoch = " + second.epoch() + " WHERE id = 'web-1'")).isEqualTo(1);
        }
        assertThat(store.find("web-1").orElseThrow().status()).isEqualTo(VmStatus.STOPPED);
        assertThat(store.existingIds(List.of("web-2"))).isEmpty();
    }

    @Test
    void aHostWhoseLeaseIsTakenFencesItselfThenTakesANewOneAndRecordsTheStop() throws Exception {
        SimulatedDriver driver = SimulatedDriver.create();
        VmManager a = host("host-a", driver, Duration.ofSeconds(2), Duration.ofMillis(200), Duration.ofSeconds(1));
        BlockingQueue<VmEvent> events = new LinkedBlockingQueue<>();
        a.create(spec("web-1"));
        a.start("web-1");
        a.subscribe(events::add);

        // What another store taking host-a's lease does to it: a new epoch.
        try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement(
                "UPDATE " + schema + ".hosts SET epoch = epoch + 1 WHERE host = 'host-a'")) {
            assertThat(ps.executeUpdate()).isEqualTo(1);
        }
        await("the fence to stop web-1", () -> driver.status("web-1") == VmStatus.STOPPED);
        VmEvent stopped = events.poll(30, TimeUnit.SECONDS);
        assertThat(stopped).as("the stop recorded once the host holds a new lease").isNotNull();
        assertThat(stopped.newStatus()).isEqualTo(VmStatus.STOPPED);
        assertThat(stopped.reason()).contains("fenced itself");
        assertThat(a.get("web-1").status()).isEqualTo(VmStatus.STOPPED);
        assertThat(a.start("web-1").status()).as("back in business under the new lease").isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void aDeadHostsVmsAreTakenOverAfterExpiryPlusGraceAndThoseMarkedAreRestarted() throws Exception {
        // The dead host: a store that took host-d's lease, wrote its VMs as running, and stopped renewing.
        PostgresVmStore dead = sharedStore();
        HostLease lease = dead.hostLeases().orElseThrow().acquire("host-d", Duration.ofMillis(800));
        VmSpec restart = VmSpec.builder().id("restart-me").memoryMiB(64).restartOnTakeover(true).build();
        dead.insertAll(List.of(
                new Vm(restart, VmStatus.RUNNING, 1, Instant.EPOCH, Instant.EPOCH, "started", new VmRuntime(1, "m"), "host-d"),
                new Vm(spec("leave-me"), VmStatus.RUNNING, 1, Instant.EPOCH, Instant.EPOCH, "started",
                        new VmRuntime(2, "m"), "host-d"),
                new Vm(spec("parked"), VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null, "host-d")));
        SimulatedDriver driver = SimulatedDriver.create();
        Duration grace = Duration.ofSeconds(1);
        BlockingQueue<VmEvent> events = new LinkedBlockingQueue<>();
        VmManager b = host("host-b", driver, Duration.ofSeconds(2), Duration.ofMillis(100), grace);
        b.subscribe(events::add);

        List<VmEvent> seen = new ArrayList<>();
        while (seen.stream().filter(e -> e.reason().contains("taken over")).count() < 3) {
            VmEvent e = events.poll(30, TimeUnit.SECONDS);
            assertThat(e).as("takeover events so far: " + seen).isNotNull();
            if (e.reason().contains("taken over")) {
                assertThat(Instant.now()).as("not before the lease expired plus the grace")
                        .isAfterOrEqualTo(lease.expiresAt().plus(grace).minusMillis(50));
            }
            seen.add(e);
        }
        VmEvent ran = seen.stream().filter(e -> e.vmId().equals("leave-me")).findFirst().orElseThrow();
        assertThat(ran.previousStatus()).isEqualTo(VmStatus.RUNNING);
        assertThat(ran.newStatus()).isEqualTo(VmStatus.STOPPED);
        assertThat(ran.reason()).contains("host-b").contains("host-d").contains("was RUNNING there");
        assertThat(b.get("leave-me").owner()).isEqualTo("host-b");
        assertThat(b.get("parked").owner()).isEqualTo("host-b");
        await("the marked VM restarted by its new owner", () -> b.get("restart-me").status() == VmStatus.RUNNING);
        assertThat(driver.status("restart-me")).isEqualTo(VmStatus.RUNNING);
        assertThat(b.get("leave-me").status()).isEqualTo(VmStatus.STOPPED);
        assertThatThrownBy(() -> dead.update(b.get("parked").withOwner("host-d"), b.get("parked").version()))
                .as("the dead host's token is refused").isInstanceOf(LeaseLostException.class);
    }

    @Test
    void twoManagersCannotRunAsOneHost() {
        host("host-a", SimulatedDriver.create());
        SimulatedDriver spare = SimulatedDriver.create();
        assertThatThrownBy(() -> VmManager.builder().store(sharedStore()).driver(spare).host("host-a").build())
                .isInstanceOf(StoreException.class).hasMessageContaining("host-a");
    }

    @Test
    void aSingleHostStoreAndSharedStoresKeepEachOtherOut() {
        sharedStore();
        assertThatThrownBy(() -> PostgresVmStore.builder().jdbcUrl(db.jdbcUrl()).user(db.user()).password(db.password())
                .schema(schema).build()).isInstanceOf(StoreException.class).hasMessageContaining("in use");
    }
}
