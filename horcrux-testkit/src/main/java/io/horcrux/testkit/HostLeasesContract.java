package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.LeaseLostException;
import io.horcrux.StoreException;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.HostLease;
import io.horcrux.spi.HostLeases;
import io.horcrux.spi.VmStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The duties of {@link HostLeases}, for a store that several hosts share: epochs, the fencing
 * of stale tokens by the database, the owner rule, and takeover after expiry plus grace. The
 * subclass opens stores on one shared inventory, fresh for each test.
 */
public abstract class HostLeasesContract {
    private static final Instant T0 = Instant.parse("2026-01-02T03:04:05.678Z");
    private static final Duration LONG = Duration.ofSeconds(60);
    private final List<VmStore> opened = new ArrayList<>();

    /**
     * A new store on this test's shared inventory: the first call of a test gets a fresh,
     * empty inventory, later calls stores on that same inventory (as other hosts would open).
     */
    protected abstract VmStore openSharedStore();

    private VmStore open() {
        VmStore store = openSharedStore();
        opened.add(store);
        assertThat(store.hostLeases()).as("a shared store offers host leases").isPresent();
        return store;
    }

    private static HostLeases leases(VmStore store) {
        return store.hostLeases().orElseThrow();
    }

    @AfterEach
    void closeStores() {
        opened.forEach(VmStore::close);
    }

    private static Vm vm(String id, VmStatus status, String owner) {
        VmSpec spec = VmSpec.builder().id(id).memoryMiB(64).build();
        return new Vm(spec, status, 1, T0, T0, "created", status.isActive() ? new VmRuntime(42, "/run/" + id) : null, owner);
    }

    private static Vm next(Vm vm, VmStatus status, String owner) {
        return new Vm(vm.spec(), status, vm.version() + 1, vm.createdAt(), vm.updatedAt().plusSeconds(1), "changed",
                status.isActive() ? new VmRuntime(43, "/run/" + vm.id()) : null, owner);
    }

    @Test
    void takingALeaseIncrementsTheEpochAndExpiresByTheDatabasesClock() {
        VmStore a = open();
        Instant before = Instant.now();
        HostLease first = leases(a).acquire("h1", Duration.ofSeconds(30));
        assertThat(first.host()).isEqualTo("h1");
        assertThat(first.epoch()).isEqualTo(1);
        assertThat(first.expiresAt()).isBetween(before.plusSeconds(25), Instant.now().plusSeconds(35));
        HostLease renewed = leases(a).renew(Duration.ofSeconds(40));
        assertThat(renewed.epoch()).isEqualTo(1);
        assertThat(renewed.expiresAt()).isAfter(first.expiresAt());

        leases(a).release();
        VmStore b = open();
        assertThat(leases(b).acquire("h1", LONG).epoch()).isEqualTo(2);
        assertThat(leases(b).acquire("h1", LONG).epoch()).as("taken again by the same store").isEqualTo(3);
        assertThat(leases(b).hosts()).extracting(HostLease::host, HostLease::epoch).containsExactly(
                org.assertj.core.groups.Tuple.tuple("h1", 3L));
    }

    @Test
    void oneStoreServesAHostAtATime() {
        VmStore a = open();
        VmStore b = open();
        leases(a).acquire("h1", LONG);
        assertThatThrownBy(() -> leases(b).acquire("h1", LONG)).isInstanceOf(StoreException.class)
                .hasMessageContaining("h1");
        assertThat(leases(b).acquire("h2", LONG).epoch()).isEqualTo(1);
        assertThatThrownBy(() -> leases(b).acquire("h3", LONG)).as("a store serves one host")
                .isInstanceOf(IllegalStateException.class);
        assertThat(leases(a).hosts()).extracting(HostLease::host).containsExactly("h1", "h2");
    }

    @Test
    void theDatabaseRefusesEveryWriteOfAStaleTokenAndKeepsWhatWasThere() {
        VmStore old = open();
        leases(old).acquire("h1", LONG);
        Vm vm = vm("web-1", VmStatus.STOPPED, "h1");
        old.insert(vm);
        leases(old).release();
        VmStore successor = open();
        assertThat(leases(successor).acquire("h1", LONG).epoch()).isEqualTo(2);

        assertThatThrownBy(() -> old.update(next(vm, VmStatus.STARTING, "h1"), 1)).isInstanceOf(LeaseLostException.class)
                .hasMessageContaining("h1");
        assertThatThrownBy(() -> old.insert(vm("web-2", VmStatus.STOPPED, "h1"))).isInstanceOf(LeaseLostException.class);
        assertThatThrownBy(() -> old.insertAll(List.of(vm("web-3", VmStatus.STOPPED, "h1"),
                vm("web-4", VmStatus.STOPPED, "h1")))).isInstanceOf(LeaseLostException.class);
        assertThatThrownBy(() -> old.delete("web-1", 1)).isInstanceOf(LeaseLostException.class);
        assertThatThrownBy(() -> leases(old).renew(LONG)).isInstanceOf(LeaseLostException.class);
        assertThat(successor.find("web-1")).contains(vm);
        assertThat(successor.existingIds(List.of("web-2", "web-3", "web-4"))).isEmpty();

        Vm starting = next(vm, VmStatus.STARTING, "h1");
        successor.update(starting, 1);
        assertThat(old.find("web-1")).as("reads need no lease").contains(starting);
    }

    @Test
    void anExpiredLeaseCannotBeRenewedNorWriteUntilTakenAnew() throws InterruptedException {
        VmStore a = open();
        HostLease lease = leases(a).acquire("h1", Duration.ofMillis(300));
        Vm vm = vm("web-1", VmStatus.STOPPED, "h1");
        a.insert(vm);
        awaitPast(lease.expiresAt());

        assertThatThrownBy(() -> a.update(next(vm, VmStatus.STARTING, "h1"), 1)).isInstanceOf(LeaseLostException.class);
        assertThatThrownBy(() -> leases(a).renew(LONG)).isInstanceOf(LeaseLostException.class)
                .hasMessageContaining("expired");
        assertThat(leases(a).acquire("h1", LONG).epoch()).isEqualTo(2);
        a.update(next(vm, VmStatus.STARTING, "h1"), 1);
        assertThat(a.find("web-1").orElseThrow().version()).isEqualTo(2);
    }

    @Test
    void aHostCreatesOnlyItsOwnVmsAndChangesAnothersOnlyWhileStopped() {
        VmStore a = open();
        VmStore b = open();
        leases(a).acquire("h1", LONG);
        leases(b).acquire("h2", LONG);
        Vm running = vm("running", VmStatus.RUNNING, "h1");
        Vm stopped = vm("stopped", VmStatus.STOPPED, "h1");
        a.insertAll(List.of(running, stopped));

        assertThatThrownBy(() -> b.update(next(running, VmStatus.STOPPED, "h2"), 1)).isInstanceOf(StoreException.class)
                .hasMessageContaining("running").hasMessageContaining("h1");
        assertThatThrownBy(() -> b.insert(vm("for-h1", VmStatus.STOPPED, "h1"))).isInstanceOf(StoreException.class);
        assertThat(b.find("running")).contains(running);
        assertThat(b.existingIds(List.of("for-h1"))).isEmpty();

        Vm moved = next(stopped, VmStatus.STOPPED, "h2");
        b.update(moved, 1);
        assertThat(a.find("stopped")).contains(moved);
    }

    @Test
    void takeoverWaitsForExpiryPlusGraceAndTakesEveryVmOnce() throws InterruptedException {
        VmStore dying = open();
        VmStore taker = open();
        HostLease dead = leases(dying).acquire("h1", Duration.ofMillis(500));
        leases(taker).acquire("h2", LONG);
        Vm running = vm("running", VmStatus.RUNNING, "h1");
        Vm stopped = vm("stopped", VmStatus.STOPPED, "h1");
        Vm other = vm("other", VmStatus.RUNNING, "h2");
        dying.insertAll(List.of(running, stopped));
        taker.insert(other);
        Duration grace = Duration.ofSeconds(1);

        assertThat(leases(taker).takeOver(grace, vm -> next(vm, VmStatus.STOPPED, "h2")))
                .as("the lease is live").isEmpty();
        List<HostLeases.Takeover> taken = List.of();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (taken.isEmpty()) {
            assertThat(System.nanoTime()).as("waiting for the takeover").isLessThan(deadline);
            Instant asked = Instant.now();
            taken = leases(taker).takeOver(grace, vm -> next(vm, VmStatus.STOPPED, "h2"));
            if (taken.isEmpty()) {
                Thread.sleep(50);
            } else {
                assertThat(Instant.now()).as("not before expiry plus grace")
                        .isAfterOrEqualTo(dead.expiresAt().plus(grace).minusMillis(50));
                assertThat(asked).isNotNull();
            }
        }
        assertThat(taken).extracting(t -> t.before().id()).containsExactly("running", "stopped");
        assertThat(taken).allSatisfy(t -> {
            assertThat(t.before().owner()).isEqualTo("h1");
            assertThat(t.after().owner()).isEqualTo("h2");
            assertThat(taker.find(t.after().id())).contains(t.after());
        });
        assertThat(taker.find("other")).as("the taker's own VMs stay").contains(other);
        assertThat(leases(taker).takeOver(grace, vm -> next(vm, VmStatus.STOPPED, "h2"))).as("once").isEmpty();
        assertThatThrownBy(() -> dying.update(next(taker.find("stopped").orElseThrow(), VmStatus.STARTING, "h1"), 2))
                .isInstanceOf(LeaseLostException.class);
        assertThatThrownBy(() -> leases(dying).renew(LONG)).isInstanceOf(LeaseLostException.class);
    }

    @Test
    void aReleasedHostIsNotTakenOver() throws InterruptedException {
        VmStore leaving = open();
        VmStore other = open();
        leases(leaving).acquire("h1", LONG);
        leases(other).acquire("h2", LONG);
        leaving.insert(vm("parked", VmStatus.STOPPED, "h1"));
        leases(leaving).release();
        Thread.sleep(100);

        assertThat(leases(other).takeOver(Duration.ZERO, vm -> next(vm, VmStatus.STOPPED, "h2"))).isEmpty();
        assertThat(other.find("parked").orElseThrow().owner()).isEqualTo("h1");
    }

    private static void awaitPast(Instant t) throws InterruptedException {
        while (!Instant.now().isAfter(t.plusMillis(50))) {
            Thread.sleep(20);
        }
    }

    @Test
    void everyHostsChangesAreFollowedInWriteOrderWithWhatKindOfChangeEachWas() throws Exception {
        VmStore writer = open();
        VmStore reader = open();
        leases(writer).acquire("h1", LONG);
        leases(reader).acquire("h2", LONG);
        java.util.concurrent.BlockingQueue<io.horcrux.spi.StoredChange> heard =
                new java.util.concurrent.LinkedBlockingQueue<>();
        try (AutoCloseable following = leases(reader).followChanges(Duration.ofMillis(100), heard::add)) {
            Vm created = vm("web-1", VmStatus.STOPPED, "h1");
            writer.insert(created);
            Vm started = next(created, VmStatus.STARTING, "h1");
            writer.update(started, created.version());
            Vm stopped = next(started, VmStatus.STOPPED, "h1");
            writer.update(stopped, started.version());
            Vm moved = next(stopped, VmStatus.STOPPED, "h2");
            writer.update(moved, stopped.version());
            reader.delete("web-1", moved.version());

            List<io.horcrux.spi.StoredChange> changes = new ArrayList<>();
            while (changes.size() < 5) {
                io.horcrux.spi.StoredChange c = heard.poll(20, TimeUnit.SECONDS);
                assertThat(c).as("changes so far: " + changes).isNotNull();
                changes.add(c);
            }
            assertThat(changes).extracting(io.horcrux.spi.StoredChange::sequence).isSorted();
            assertThat(changes).extracting(io.horcrux.spi.StoredChange::version).containsExactly(1L, 2L, 3L, 4L, 4L);
            io.horcrux.spi.StoredChange create = changes.get(0);
            assertThat(create.previousStatus()).isNull();
            assertThat(create.previousOwner()).isNull();
            assertThat(create.status()).isEqualTo(VmStatus.STOPPED);
            assertThat(create.writtenBy()).isEqualTo("h1");
            assertThat(changes.get(1).previousStatus()).isEqualTo(VmStatus.STOPPED);
            assertThat(changes.get(1).status()).isEqualTo(VmStatus.STARTING);
            assertThat(changes.subList(0, 3)).noneMatch(io.horcrux.spi.StoredChange::isMove);
            io.horcrux.spi.StoredChange move = changes.get(3);
            assertThat(move.isMove()).isTrue();
            assertThat(move.previousOwner()).isEqualTo("h1");
            assertThat(move.owner()).isEqualTo("h2");
            assertThat(move.writtenBy()).isEqualTo("h1");
            io.horcrux.spi.StoredChange delete = changes.get(4);
            assertThat(delete.status()).as("a delete has no status after").isNull();
            assertThat(delete.previousStatus()).isEqualTo(VmStatus.STOPPED);
            assertThat(delete.writtenBy()).as("a delete is its owner's, whoever wrote the row last").isEqualTo("h2");
            assertThat(delete.isMove()).isFalse();
        }
    }
}
