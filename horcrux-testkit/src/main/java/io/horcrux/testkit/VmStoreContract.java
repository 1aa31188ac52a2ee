package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmConflictException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmStore;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link VmStore} must have. An implementation's test extends this class
 * and supplies a fresh, empty store; every implementation shipped with Horcrux passes it.
 */
public abstract class VmStoreContract {
    /** Millisecond precision: what every store is required to keep of an instant. */
    protected static final Instant T0 = Instant.parse("2026-01-02T03:04:05.678Z");

    protected VmStore store;

    /** A fresh, empty store; the contract closes it after each test. */
    protected abstract VmStore newStore();

    @BeforeEach
    void openStore() {
        store = newStore();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    protected static Vm vm(String id) {
        return vm(id, VmStatus.STOPPED, 1);
    }

    protected static Vm vm(String id, VmStatus status, long version) {
        VmSpec spec = VmSpec.builder().id(id).memoryMiB(64).label("app", "web").build();
        return new Vm(spec, status, version, T0, T0, "created", status.isActive() ? new VmRuntime(42, "/run/" + id) : null);
    }

    @Test
    void insertedVmIsFoundWithEveryField() {
        VmSpec spec = VmSpec.builder().id("full").name("Full, VM = \"all\" fields").memoryMiB(512).cpus(2)
                .disk(DiskSpec.qcow2("root", 1L << 30))
                .disk(DiskSpec.raw("data", 4L << 20).asReadOnly())
                .nic(NicSpec.user("eth0").withMac("52:54:00:aa:bb:cc"))
                .nic(NicSpec.user("eth1"))
                .label("env", "prod").label("team", "a/b.c")
                .boot(BootSpec.kernel("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0 quiet"))
                .build();
        Vm vm = new Vm(spec, VmStatus.RUNNING, 7, T0, T0.plusSeconds(5), "started", new VmRuntime(1234, "/tmp/qmp.sock"));
        store.insert(vm);

        assertThat(store.find("full")).contains(vm);
    }

    @Test
    void networkAndCloudInitSettingsAndRuntimeForwardsRoundTrip() {
        VmSpec spec = VmSpec.builder().id("net").memoryMiB(64)
                .nic(NicSpec.user("eth0").withMac("52:54:00:aa:bb:01")
                        .forward(PortForward.tcp(0, 22), PortForward.udp(5353, 53).onHostAddress("0.0.0.0")))
                .nic(NicSpec.tap("eth1", "tap-net0").withMac("52:54:00:aa:bb:02"))
                .cloudInit(CloudInit.userData("#cloud-config\nruncmd: [\"echo hi\"]\n")
                        .withMetaData("instance-id: net-1\n").withNetworkConfig("version: 2\n"))
                .build();
        VmRuntime runtime = new VmRuntime(99, "/run/net.sock", List.of(PortForward.tcp(40001, 22),
                PortForward.udp(5353, 53).onHostAddress("0.0.0.0")));
        Vm running = new Vm(spec, VmStatus.RUNNING, 1, T0, T0, "started", runtime);
        store.insert(running);
        assertThat(store.find("net")).contains(running);

        // The common update (spec unchanged): new runtime facts, then none once stopped.
        Vm restarted = new Vm(spec, VmStatus.RUNNING, 2, T0, T0.plusSeconds(1), "reattached",
                new VmRuntime(100, "/run/net.sock", List.of(PortForward.tcp(40002, 22),
                        PortForward.udp(5353, 53).onHostAddress("0.0.0.0"))));
        store.update(restarted, 1);
        assertThat(store.find("net")).contains(restarted);
        assertThat(store.list(VmQuery.all()).items()).containsExactly(restarted);
        Vm stopped = new Vm(spec, VmStatus.STOPPED, 3, T0, T0.plusSeconds(2), "stopped", null);
        store.update(stopped, 2);
        assertThat(store.find("net")).contains(stopped);
        // Forwards and owner are separate columns: the common update moves both.
        Vm elsewhere = new Vm(spec, VmStatus.RUNNING, 4, T0, T0.plusSeconds(3), "started",
                new VmRuntime(101, "/run/net.sock", List.of(PortForward.tcp(40003, 22))), "host-b");
        store.update(elsewhere, 3);
        assertThat(store.find("net")).contains(elsewhere);
    }

    @Test
    void ownersAreKeptAsWrittenAndAMoveChangesOnlyTheOwner() {
        Vm here = vm("here");
        Vm there = new Vm(vm("there").spec(), VmStatus.RUNNING, 2, T0, T0, "started", new VmRuntime(7, "/m"), "host-b");
        store.insertAll(List.of(here, there));

        assertThat(store.find("here")).contains(here);
        assertThat(here.owner()).isEqualTo(Vm.DEFAULT_HOST);
        assertThat(store.find("there")).contains(there);
        try (Stream<Vm> all = store.stream(VmQuery.all())) {
            assertThat(all.map(Vm::owner)).containsExactly(Vm.DEFAULT_HOST, "host-b");
        }
        Vm moved = new Vm(here.spec(), here.status(), 2, T0, T0.plusSeconds(1), "moved", null, "host-c");
        store.update(moved, 1);
        assertThat(store.find("here")).contains(moved);
        assertThat(store.list(VmQuery.all()).items()).containsExactly(moved, there);
    }

    @Test
    void missingVmIsEmpty() {
        assertThat(store.find("nope")).isEmpty();
        assertThat(store.find("not a valid id '; DROP TABLE vms; --")).isEmpty();
    }

    @Test
    void secondInsertOfAnIdIsRefusedAndKeepsTheFirst() {
        Vm first = vm("a");
        store.insert(first);
        Vm second = new Vm(first.spec().toBuilder().name("other").build(), VmStatus.STOPPED, 1, T0, T0, "", null);

        assertThatThrownBy(() -> store.insert(second))
                .isInstanceOf(VmAlreadyExistsException.class)
                .satisfies(e -> assertThat(((VmAlreadyExistsException) e).vmIds()).containsExactly("a"));
        assertThat(store.find("a")).contains(first);
    }

    @Test
    void insertAllStoresEveryVm() {
        List<Vm> vms = IntStream.range(0, 50).mapToObj(i -> vm("vm-" + i)).toList();
        store.insertAll(vms);

        assertThat(store.count(VmQuery.all())).isEqualTo(50);
        vms.forEach(vm -> assertThat(store.find(vm.id())).contains(vm));
    }

    @Test
    void insertAllWithRepeatsAndTakenIdsStoresNothingAndNamesEveryOffender() {
        store.insert(vm("taken"));
        List<Vm> batch = List.of(vm("new-1"), vm("taken"), vm("new-2"), vm("twice"), vm("twice"), vm("new-3"));

        assertThatThrownBy(() -> store.insertAll(batch))
                .isInstanceOf(VmAlreadyExistsException.class)
                .satisfies(e -> assertThat(((VmAlreadyExistsException) e).vmIds())
                        .containsExactlyInAnyOrder("taken", "twice"));
        assertThat(store.count(VmQuery.all())).isEqualTo(1);
        assertThat(store.find("new-1")).isEmpty();
        assertThat(store.find("twice")).isEmpty();
    }

    @Test
    void insertAllOfNothingDoesNothing() {
        store.insertAll(List.of());
        assertThat(store.count(VmQuery.all())).isZero();
    }

    @Test
    void updateWithTheCurrentVersionReplaces() {
        Vm v1 = vm("a");
        store.insert(v1);
        Vm v2 = new Vm(v1.spec(), VmStatus.STARTING, 2, T0, T0.plusSeconds(1), "start requested", null);

        store.update(v2, 1);

        assertThat(store.find("a")).contains(v2);
    }

    @Test
    void updateWithAStaleVersionIsAConflictAndChangesNothing() {
        Vm v1 = vm("a");
        store.insert(v1);
        store.update(vm("a", VmStatus.STARTING, 2), 1);

        assertThatThrownBy(() -> store.update(vm("a", VmStatus.RUNNING, 2), 1))
                .isInstanceOf(VmConflictException.class)
                .hasMessageContaining("'a'");
        assertThat(store.find("a").orElseThrow().status()).isEqualTo(VmStatus.STARTING);
    }

    @Test
    void updateOfAMissingVmIsNotFound() {
        assertThatThrownBy(() -> store.update(vm("ghost", VmStatus.RUNNING, 2), 1))
                .isInstanceOf(VmNotFoundException.class);
        assertThat(store.find("ghost")).isEmpty();
    }

    @Test
    void updateKeepsLabelFiltersTrue() {
        store.insert(vm("a"));
        VmSpec relabelled = vm("a").spec().toBuilder().label("app", "db").build();
        store.update(new Vm(relabelled, VmStatus.STOPPED, 2, T0, T0, "", null), 1);

        assertThat(store.list(VmQuery.all().withLabel("app", "web")).items()).isEmpty();
        assertThat(store.list(VmQuery.all().withLabel("app", "db")).items()).extracting(Vm::id).containsExactly("a");
    }

    @Test
    void deleteWithTheCurrentVersionRemoves() {
        store.insert(vm("a"));
        store.delete("a", 1);
        assertThat(store.find("a")).isEmpty();
        assertThat(store.list(VmQuery.all().withLabel("app", "web")).items()).isEmpty();
    }

    @Test
    void deleteWithAStaleVersionIsAConflictAndKeepsTheVm() {
        store.insert(vm("a"));
        assertThatThrownBy(() -> store.delete("a", 5)).isInstanceOf(VmConflictException.class);
        assertThat(store.find("a")).isPresent();
    }

    @Test
    void deleteOfAMissingVmIsNotFound() {
        assertThatThrownBy(() -> store.delete("ghost", 1)).isInstanceOf(VmNotFoundException.class);
    }

    @Test
    void deletedIdCanBeCreatedAgain() {
        store.insert(vm("a"));
        store.delete("a", 1);
        store.insert(vm("a"));
        assertThat(store.find("a")).isPresent();
    }

    @Test
    void listPagesThroughEveryVmInIdOrderWithoutRepeatsOrGaps() {
        List<String> ids = IntStream.range(0, 23).mapToObj(i -> String.format("vm-%03d", i)).toList();
        List<Vm> shuffled = new ArrayList<>(ids.stream().map(VmStoreContract::vm).toList());
        java.util.Collections.shuffle(shuffled, new java.util.Random(7));
        store.insertAll(shuffled);

        List<String> seen = new ArrayList<>();
        VmQuery query = VmQuery.all().limit(5);
        int pages = 0;
        while (true) {
            Page<Vm> page = store.list(query);
            pages++;
            assertThat(page.items()).hasSizeLessThanOrEqualTo(5);
            page.items().forEach(vm -> seen.add(vm.id()));
            if (page.nextCursor().isEmpty()) {
                break;
            }
            query = query.after(page.nextCursor().get());
        }
        assertThat(seen).containsExactlyElementsOf(ids);
        assertThat(pages).isEqualTo(5);
    }

    @Test
    void lastFullPageHasNoNextCursor() {
        store.insertAll(List.of(vm("a"), vm("b")));
        Page<Vm> page = store.list(VmQuery.all().limit(2));
        assertThat(page.items()).hasSize(2);
        assertThat(page.nextCursor()).isEmpty();
    }

    @Test
    void listWithoutLimitReturnsTheDefaultPageSize() {
        store.insertAll(IntStream.range(0, VmQuery.DEFAULT_LIMIT + 1).mapToObj(i -> vm(String.format("v%04d", i))).toList());
        Page<Vm> page = store.list(VmQuery.all());
        assertThat(page.items()).hasSize(VmQuery.DEFAULT_LIMIT);
        assertThat(page.nextCursor()).contains(page.items().get(VmQuery.DEFAULT_LIMIT - 1).id());
    }

    @Test
    void cursorStaysValidWhenItsVmIsDeleted() {
        store.insertAll(List.of(vm("a"), vm("b"), vm("c"), vm("d")));
        Page<Vm> first = store.list(VmQuery.all().limit(2));
        store.delete("b", 1);
        Page<Vm> second = store.list(VmQuery.all().limit(2).after(first.nextCursor().orElseThrow()));
        assertThat(second.items()).extracting(Vm::id).containsExactly("c", "d");
    }

    @Test
    void filtersOnStatusAndLabelsCombine() {
        VmSpec db = VmSpec.builder().id("db-1").memoryMiB(64).label("app", "db").label("env", "prod").build();
        VmSpec db2 = VmSpec.builder().id("db-2").memoryMiB(64).label("app", "db").label("env", "test").build();
        store.insertAll(List.of(vm("web-1"), vm("web-2", VmStatus.RUNNING, 3),
                new Vm(db, VmStatus.RUNNING, 1, T0, T0, "", new VmRuntime(1, "m")),
                new Vm(db2, VmStatus.RUNNING, 1, T0, T0, "", new VmRuntime(2, "m"))));

        assertThat(store.list(VmQuery.all().withStatus(VmStatus.RUNNING)).items()).extracting(Vm::id)
                .containsExactly("db-1", "db-2", "web-2");
        assertThat(store.list(VmQuery.all().withLabel("app", "db")).items()).extracting(Vm::id)
                .containsExactly("db-1", "db-2");
        assertThat(store.list(VmQuery.all().withLabel("app", "db").withLabel("env", "prod")).items())
                .extracting(Vm::id).containsExactly("db-1");
        assertThat(store.list(VmQuery.all().withLabel("app", "web").withStatus(VmStatus.STOPPED)).items())
                .extracting(Vm::id).containsExactly("web-1");
        assertThat(store.list(VmQuery.all().withStatus(VmStatus.PAUSED, VmStatus.STOPPED)).items())
                .extracting(Vm::id).containsExactly("web-1");
        assertThat(store.count(VmQuery.all().withLabel("app", "db"))).isEqualTo(2);
    }

    @Test
    void filteredPagesHaveCursorsOnlyWhenMoreMatchesFollow() {
        List<Vm> vms = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            vms.add(i % 2 == 0 ? vm("vm-" + i, VmStatus.RUNNING, 1) : vm("vm-" + i));
        }
        store.insertAll(vms);
        Page<Vm> first = store.list(VmQuery.all().withStatus(VmStatus.RUNNING).limit(3));
        assertThat(first.items()).extracting(Vm::id).containsExactly("vm-0", "vm-2", "vm-4");
        Page<Vm> second = store.list(VmQuery.all().withStatus(VmStatus.RUNNING).limit(3)
                .after(first.nextCursor().orElseThrow()));
        assertThat(second.items()).extracting(Vm::id).containsExactly("vm-6", "vm-8");
        assertThat(second.nextCursor()).isEmpty();
    }

    @Test
    void labelValuesAreDataNeverSql() {
        String hostile = "x' OR '1'='1";
        VmSpec spec = VmSpec.builder().id("a").memoryMiB(64).label("app", hostile).build();
        store.insert(new Vm(spec, VmStatus.STOPPED, 1, T0, T0, "", null));
        store.insert(vm("b"));

        assertThat(store.list(VmQuery.all().withLabel("app", hostile)).items()).extracting(Vm::id).containsExactly("a");
        assertThat(store.list(VmQuery.all().withLabel("app", "x")).items()).isEmpty();
        assertThat(store.count(VmQuery.all())).isEqualTo(2);
    }

    @Test
    void streamReturnsEveryMatchInIdOrderHonouringCursorAndLimit() {
        store.insertAll(IntStream.range(0, 300).mapToObj(i -> vm(String.format("vm-%04d", i))).toList());

        try (Stream<Vm> all = store.stream(VmQuery.all())) {
            assertThat(all.map(Vm::id)).hasSize(300).isSorted();
        }
        try (Stream<Vm> tail = store.stream(VmQuery.all().after("vm-0289"))) {
            assertThat(tail.map(Vm::id)).containsExactly("vm-0290", "vm-0291", "vm-0292", "vm-0293", "vm-0294",
                    "vm-0295", "vm-0296", "vm-0297", "vm-0298", "vm-0299");
        }
        try (Stream<Vm> limited = store.stream(VmQuery.all().limit(7))) {
            assertThat(limited.count()).isEqualTo(7);
        }
    }

    @Test
    void streamsCanBeAbandonedEarlyAndManyTimes() {
        store.insertAll(IntStream.range(0, 100).mapToObj(i -> vm("vm-" + i)).toList());
        for (int i = 0; i < 200; i++) {
            try (Stream<Vm> vms = store.stream(VmQuery.all())) {
                Iterator<Vm> it = vms.iterator();
                assertThat(it.next()).isNotNull();
            }
        }
        // A store that leaked a connection or cursor per abandoned stream would fail here.
        assertThat(store.count(VmQuery.all())).isEqualTo(100);
        store.insert(vm("after"));
    }

    @Test
    void exceptionInTheConsumerStillReleasesTheStream() {
        store.insertAll(IntStream.range(0, 20).mapToObj(i -> vm("vm-" + i)).toList());
        for (int i = 0; i < 100; i++) {
            AtomicBoolean thrown = new AtomicBoolean();
            try (Stream<Vm> vms = store.stream(VmQuery.all())) {
                vms.forEach(vm -> {
                    throw new IllegalStateException("consumer failed");
                });
            } catch (IllegalStateException expected) {
                thrown.set(true);
            }
            assertThat(thrown).isTrue();
        }
        store.insert(vm("after"));
        assertThat(store.count(VmQuery.all())).isEqualTo(21);
    }

    @Test
    void instantsKeepAtLeastMillisecondPrecision() {
        Instant t = Instant.parse("2026-05-06T07:08:09.123456789Z");
        VmSpec spec = VmSpec.builder().id("a").memoryMiB(64).build();
        store.insert(new Vm(spec, VmStatus.STOPPED, 1, t, t, "", null));
        Vm read = store.find("a").orElseThrow();
        assertThat(read.createdAt().truncatedTo(ChronoUnit.MILLIS)).isEqualTo(t.truncatedTo(ChronoUnit.MILLIS));
    }

    @Test
    void bootOrderAndEmptyCollectionsRoundTrip() {
        VmSpec spec = VmSpec.builder().id("a").memoryMiB(64).boot(BootSpec.devices(BootDevice.NETWORK, BootDevice.DISK)).build();
        Vm vm = new Vm(spec, VmStatus.STOPPED, 1, T0, T0, "", null);
        store.insert(vm);
        assertThat(store.find("a")).contains(vm);
    }

    @Test
    void closeIsIdempotentAndLaterCallsFail() {
        store.close();
        store.close();
        assertThatThrownBy(() -> store.find("a")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> store.insert(vm("a"))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> store.list(VmQuery.all())).isInstanceOf(IllegalStateException.class);
    }

    // ---------------------------------------------------------------- bulk id check, exclusivity

    /**
     * Opens a second store on the inventory {@link #store} holds (the same file, the same
     * database), for the check that a store does not share its inventory: the supplier is
     * called while {@link #store} is open, where it must throw a
     * {@link io.horcrux.StoreException} whose message says the inventory is "in use", and after
     * it closed, where it must open. Empty, the
     * default, for a store whose inventory no other store can reach (one in memory).
     */
    protected java.util.Optional<java.util.function.Supplier<VmStore>> secondStoreOnTheSameInventory() {
        return java.util.Optional.empty();
    }

    @Test
    void aSecondStoreOnTheSameInventoryIsRefusedUntilTheFirstCloses() {
        java.util.Optional<java.util.function.Supplier<VmStore>> second = secondStoreOnTheSameInventory();
        if (second.isEmpty()) {
            return; // nothing another store could share
        }
        store.insert(vm("a"));
        assertThatThrownBy(() -> second.get().get().close()).isInstanceOf(io.horcrux.StoreException.class)
                .hasMessageContaining("in use"); // refused for the claim, not for another reason
        assertThat(store.find("a")).isPresent();
        store.close();
        store = second.get().get(); // closed after the test
        store.find("a");
    }

    @Test
    void existingIdsNamesExactlyTheStoredOnes() {
        store.insertAll(List.of(vm("a"), vm("b"), vm("c")));
        assertThat(store.existingIds(List.of("a", "missing", "c", "a", "'; DROP TABLE vms; --", "UPPER", "")))
                .containsExactlyInAnyOrder("a", "c");
        assertThat(store.existingIds(java.util.Set.of("b"))).containsExactly("b");
        assertThat(store.existingIds(List.of("nope"))).isEmpty();
        assertThat(store.existingIds(List.of())).isEmpty();
        assertThat(store.count(VmQuery.all())).isEqualTo(3);
    }

    @Test
    void existingIdsAnswersForMoreIdsThanOneQueryTakes() {
        store.insertAll(IntStream.range(0, 1500).mapToObj(i -> vm(String.format("vm-%04d", i))).toList());
        List<String> asked = IntStream.range(0, 2100).mapToObj(i -> String.format("vm-%04d", i)).toList();

        java.util.Set<String> existing = store.existingIds(asked);

        assertThat(existing).hasSize(1500).allSatisfy(id -> assertThat(id.compareTo("vm-1500")).isNegative());
    }

    @Test
    void existingIdsRefusesNullAndAClosedStore() {
        assertThatThrownBy(() -> store.existingIds(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> store.existingIds(java.util.Arrays.asList("a", null)))
                .isInstanceOf(NullPointerException.class);
        store.close();
        assertThatThrownBy(() -> store.existingIds(List.of("a"))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void textBeyondAsciiRoundTrips() {
        VmSpec spec = VmSpec.builder().id("text").name("caf\u00e9 \u4e2d\u6587 \ud83d\ude00 \"q\" \\")
                .memoryMiB(64).label("team", "\u00fcber/\ud83d\ude80").build();
        Vm vm = new Vm(spec, VmStatus.STOPPED, 1, T0, T0, "cr\u00e9\u00e9", null);
        store.insert(vm);
        assertThat(store.find("text")).contains(vm);
        assertThat(store.list(VmQuery.all().withLabel("team", "\u00fcber/\ud83d\ude80")).items()).containsExactly(vm);
    }

    // ---------------------------------------------------------------- snapshots

    /**
     * Whether the store keeps snapshots; a store that does not (the SPI's defaults) is checked to
     * refuse every snapshot call with a {@link io.horcrux.StoreException}. True unless overridden.
     */
    protected boolean keepsSnapshots() {
        return true;
    }

    private static io.horcrux.model.Snapshot snap(String name, String parent, int second) {
        return new io.horcrux.model.Snapshot(name, java.util.Optional.ofNullable(parent), T0.plusSeconds(second).plusNanos(123_000_000),
                false, true, VmStatus.STOPPED);
    }

    @Test
    void aStoreWithoutSnapshotsRefusesThemClearly() {
        if (keepsSnapshots()) {
            assertThat(store.snapshots("nobody")).isEmpty();
            return;
        }
        store.insert(vm("plain"));
        for (Runnable call : List.<Runnable>of(() -> store.snapshots("plain"),
                () -> store.insertSnapshot("plain", snap("s1", null, 1)),
                () -> store.revertSnapshot("plain", "s1"), () -> store.deleteSnapshot("plain", "s1"),
                () -> store.recordSnapshotIntent(intent("plain", io.horcrux.spi.SnapshotIntent.Operation.TAKE, "s1")),
                () -> store.clearSnapshotIntent("plain"))) {
            assertThatThrownBy(call::run).isInstanceOf(io.horcrux.StoreException.class).hasMessageContaining("snapshots");
        }
        assertThat(store.snapshotIntents()).as("nothing in flight where nothing is kept").isEmpty();
    }

    private static io.horcrux.spi.SnapshotIntent intent(String vmId, io.horcrux.spi.SnapshotIntent.Operation operation,
                                                        String name) {
        return new io.horcrux.spi.SnapshotIntent(vmId, operation, new io.horcrux.model.Snapshot(name,
                java.util.Optional.of("parent-of-" + name), T0.plusSeconds(7).plusNanos(250_000_000), true, false,
                VmStatus.PAUSED), T0.plusSeconds(9).plusNanos(1_000_000));
    }

    @Test
    void theSnapshotJournalKeepsOneOperationPerVmReadBackExactlyAndApartFromTheVm() {
        if (!keepsSnapshots()) {
            return;
        }
        store.insert(vm("journal-b"));
        store.insert(vm("journal-a"));
        store.insertSnapshot("journal-a", snap("s1", null, 1));
        assertThat(store.snapshotIntents()).isEmpty();

        io.horcrux.spi.SnapshotIntent take = intent("journal-b", io.horcrux.spi.SnapshotIntent.Operation.TAKE, "new");
        io.horcrux.spi.SnapshotIntent revert = intent("journal-a", io.horcrux.spi.SnapshotIntent.Operation.REVERT, "s1");
        store.recordSnapshotIntent(take);
        store.recordSnapshotIntent(revert);
        assertThat(store.snapshotIntents()).as("in VM id order, exactly as written").containsExactly(revert, take);

        io.horcrux.spi.SnapshotIntent delete = intent("journal-a", io.horcrux.spi.SnapshotIntent.Operation.DELETE, "s1");
        store.recordSnapshotIntent(delete);
        assertThat(store.snapshotIntents()).as("a VM's next entry replaces its last").containsExactly(delete, take);
        assertThat(store.find("journal-a")).as("the VM's record is untouched").contains(vm("journal-a"));
        assertThat(store.snapshots("journal-a")).as("its snapshots too").containsExactly(snap("s1", null, 1));

        store.clearSnapshotIntent("journal-a");
        store.clearSnapshotIntent("journal-a");
        store.clearSnapshotIntent("nobody");
        assertThat(store.snapshotIntents()).containsExactly(take);
        assertThat(store.snapshots("journal-a")).containsExactly(snap("s1", null, 1));

        assertThatThrownBy(() -> store.recordSnapshotIntent(intent("missing", io.horcrux.spi.SnapshotIntent.Operation.TAKE,
                "x"))).isInstanceOf(VmNotFoundException.class);
        store.delete("journal-b", 1);
        assertThat(store.snapshotIntents()).as("deleted with its VM").isEmpty();
    }

    @Test
    void aSnapshotWriteRemovesTheVmsJournalEntryAndARefusedOneLeavesIt() {
        if (!keepsSnapshots()) {
            return;
        }
        store.insert(vm("rec"));
        store.insert(vm("rec-other"));
        io.horcrux.spi.SnapshotIntent others = intent("rec-other", io.horcrux.spi.SnapshotIntent.Operation.TAKE, "x");
        store.recordSnapshotIntent(others);
        for (Runnable write : List.<Runnable>of(() -> store.insertSnapshot("rec", snap("s1", null, 1)),
                () -> store.insertSnapshot("rec", snap("s2", "s1", 2)), () -> store.revertSnapshot("rec", "s1"),
                () -> store.deleteSnapshot("rec", "s2"))) {
            store.recordSnapshotIntent(intent("rec", io.horcrux.spi.SnapshotIntent.Operation.TAKE, "s9"));
            write.run();
            assertThat(store.snapshotIntents()).as("only the written VM's entry goes").containsExactly(others);
        }
        io.horcrux.spi.SnapshotIntent pending = intent("rec", io.horcrux.spi.SnapshotIntent.Operation.TAKE, "s1");
        store.recordSnapshotIntent(pending);
        assertThatThrownBy(() -> store.insertSnapshot("rec", snap("s1", null, 5)))
                .isInstanceOf(io.horcrux.SnapshotAlreadyExistsException.class);
        assertThatThrownBy(() -> store.revertSnapshot("rec", "nope")).isInstanceOf(io.horcrux.SnapshotNotFoundException.class);
        assertThatThrownBy(() -> store.deleteSnapshot("rec", "nope")).isInstanceOf(io.horcrux.SnapshotNotFoundException.class);
        assertThat(store.snapshotIntents()).as("a refused write leaves the entry").containsExactly(pending, others);
    }

    @Test
    void snapshotsFormATreeWithOneCurrentAndAreReadBackExactly() {
        if (!keepsSnapshots()) {
            return;
        }
        store.insert(vm("tree"));
        store.insert(vm("other"));
        io.horcrux.model.Snapshot a = snap("a", null, 1);
        store.insertSnapshot("tree", a);
        io.horcrux.model.Snapshot b = new io.horcrux.model.Snapshot("b", java.util.Optional.of("a"), T0.plusSeconds(2), true, true,
                VmStatus.PAUSED);
        store.insertSnapshot("tree", b);
        assertThat(store.snapshots("tree")).containsExactly(a.withCurrent(false), b);
        store.revertSnapshot("tree", "a");
        io.horcrux.model.Snapshot c = snap("c", "a", 3);
        store.insertSnapshot("tree", c);
        assertThat(store.snapshots("tree")).containsExactly(a.withCurrent(false), b.withCurrent(false), c);
        assertThat(store.snapshots("other")).isEmpty();
        // The VM's own record is not touched by its snapshots.
        assertThat(store.find("tree")).contains(vm("tree"));
    }

    @Test
    void deletingASnapshotReHangsItsChildrenFromItsParent() {
        if (!keepsSnapshots()) {
            return;
        }
        store.insert(vm("del"));
        store.insertSnapshot("del", snap("root", null, 1));
        store.insertSnapshot("del", snap("mid", "root", 2));
        store.insertSnapshot("del", snap("leaf1", "mid", 3));
        store.revertSnapshot("del", "mid");
        store.insertSnapshot("del", snap("leaf2", "mid", 4));
        store.revertSnapshot("del", "mid");

        store.deleteSnapshot("del", "mid");

        assertThat(store.snapshots("del")).containsExactly(snap("root", null, 1), snap("leaf1", "root", 3).withCurrent(false),
                snap("leaf2", "root", 4).withCurrent(false));
        store.deleteSnapshot("del", "root");
        assertThat(store.snapshots("del")).containsExactly(snap("leaf1", null, 3).withCurrent(false),
                snap("leaf2", null, 4).withCurrent(false));
    }

    @Test
    void snapshotWritesRefuseBadInputAndChangeNothing() {
        if (!keepsSnapshots()) {
            return;
        }
        store.insert(vm("bad"));
        store.insert(vm("else"));
        store.insertSnapshot("bad", snap("s1", null, 1));
        store.insertSnapshot("else", snap("theirs", null, 1));
        List<io.horcrux.model.Snapshot> before = store.snapshots("bad");

        assertThatThrownBy(() -> store.insertSnapshot("bad", snap("s1", null, 5)))
                .isInstanceOf(io.horcrux.SnapshotAlreadyExistsException.class).hasMessageContaining("s1");
        assertThatThrownBy(() -> store.insertSnapshot("bad", snap("s2", "theirs", 5)))
                .isInstanceOf(io.horcrux.SnapshotNotFoundException.class).hasMessageContaining("theirs");
        assertThatThrownBy(() -> store.insertSnapshot("missing", snap("s1", null, 5)))
                .isInstanceOf(VmNotFoundException.class);
        assertThatThrownBy(() -> store.revertSnapshot("bad", "theirs"))
                .isInstanceOf(io.horcrux.SnapshotNotFoundException.class).hasMessageContaining("'bad'");
        assertThatThrownBy(() -> store.deleteSnapshot("bad", "theirs"))
                .isInstanceOf(io.horcrux.SnapshotNotFoundException.class);
        assertThat(store.snapshots("bad")).isEqualTo(before);
        assertThat(store.snapshots("else")).containsExactly(snap("theirs", null, 1));
    }

    @Test
    void deletingAVmDeletesItsSnapshots() {
        if (!keepsSnapshots()) {
            return;
        }
        store.insert(vm("gone"));
        store.insertSnapshot("gone", snap("s1", null, 1));
        store.delete("gone", 1);
        store.insert(vm("gone"));
        assertThat(store.snapshots("gone")).isEmpty();
    }

    // ---------------------------------------------------------------- templates and linked clones

    /**
     * Whether the store keeps linked clones ({@link VmStore#insertLinkedClone}); one that does not
     * (the SPI's defaults) is checked to refuse them with a {@link io.horcrux.StoreException}. True
     * unless overridden.
     */
    protected boolean keepsLinkedClones() {
        return true;
    }

    @Test
    void templatesAreAStatusAndLinkedClonesAreKnownByTheirTemplate() {
        if (!keepsLinkedClones()) {
            store.insert(vm("tpl", VmStatus.TEMPLATE, 2));
            assertThatThrownBy(() -> store.insertLinkedClone(vm("a"), "tpl")).isInstanceOf(io.horcrux.StoreException.class)
                    .hasMessageContaining("linked clones");
            assertThat(store.find("a")).isEmpty();
            assertThat(store.linkedClones("tpl")).isEmpty();
            return;
        }
        Vm template = vm("tpl", VmStatus.TEMPLATE, 2);
        store.insert(template);
        store.insert(vm("other-tpl", VmStatus.TEMPLATE, 2));
        store.insertLinkedClone(vm("b"), "tpl");
        store.insertLinkedClone(vm("a"), "tpl");
        store.insertLinkedClone(vm("c"), "other-tpl");
        store.insert(vm("full-copy"));

        assertThat(store.find("tpl")).contains(template);
        assertThat(store.find("a")).contains(vm("a"));
        assertThat(store.list(VmQuery.all().withLabel("app", "web")).items()).extracting(Vm::id).contains("a", "b");
        assertThat(store.linkedClones("tpl")).containsExactly("a", "b");
        assertThat(store.linkedClones("other-tpl")).containsExactly("c");
        assertThat(store.linkedClones("full-copy")).isEmpty();
        assertThat(store.linkedClones("nobody")).isEmpty();
        assertThat(store.list(VmQuery.all().withStatus(VmStatus.TEMPLATE)).items()).extracting(Vm::id)
                .containsExactly("other-tpl", "tpl");
        assertThat(store.count(VmQuery.all().withStatus(VmStatus.TEMPLATE))).isEqualTo(2);

        Vm updated = new Vm(vm("a").spec(), VmStatus.RUNNING, 2, T0, T0.plusSeconds(1), "started", new VmRuntime(7, "/run/a"));
        store.update(updated, 1);
        assertThat(store.linkedClones("tpl")).as("an update keeps the link").containsExactly("a", "b");
        store.delete("a", 2);
        assertThat(store.linkedClones("tpl")).as("a deleted clone has no link").containsExactly("b");
        store.insert(vm("a"));
        assertThat(store.linkedClones("tpl")).as("a new VM of a deleted clone's id is not linked").containsExactly("b");
    }

    @Test
    void aLinkedCloneOfAMissingTemplateOrOnATakenIdStoresNothing() {
        if (!keepsLinkedClones()) {
            return;
        }
        assertThatThrownBy(() -> store.insertLinkedClone(vm("a"), "nobody")).isInstanceOf(VmNotFoundException.class)
                .hasMessageContaining("nobody");
        assertThat(store.find("a")).isEmpty();

        store.insert(vm("tpl", VmStatus.TEMPLATE, 2));
        Vm taken = vm("taken");
        store.insert(taken);
        assertThatThrownBy(() -> store.insertLinkedClone(vm("taken", VmStatus.STOPPED, 1), "tpl"))
                .isInstanceOf(VmAlreadyExistsException.class).hasMessageContaining("taken");
        assertThat(store.linkedClones("tpl")).isEmpty();
        assertThat(store.find("taken")).contains(taken);
        assertThatThrownBy(() -> store.insertLinkedClone(vm("tpl"), "tpl")).isInstanceOf(VmAlreadyExistsException.class);
        assertThat(store.linkedClones("tpl")).isEmpty();
    }

    /**
     * A store that opens the inventory again once the contract's store closed, to check what
     * survives reopening: by default {@link #secondStoreOnTheSameInventory()}; empty for a store
     * whose inventory ends with it (SQLite in memory).
     */
    protected java.util.Optional<java.util.function.Supplier<VmStore>> reopenedStore() {
        return secondStoreOnTheSameInventory();
    }

    @Test
    void templatesAndLinksSurviveReopening() {
        java.util.Optional<java.util.function.Supplier<VmStore>> second = reopenedStore();
        if (second.isEmpty() || !keepsLinkedClones()) {
            return; // nothing survives a store in memory
        }
        store.insert(vm("tpl", VmStatus.TEMPLATE, 2));
        store.insertLinkedClone(vm("a"), "tpl");
        store.close();
        store = second.get().get(); // closed after the test
        assertThat(store.find("tpl")).map(Vm::status).contains(VmStatus.TEMPLATE);
        assertThat(store.linkedClones("tpl")).containsExactly("a");
        assertThat(store.list(VmQuery.all().withStatus(VmStatus.TEMPLATE)).items()).extracting(Vm::id).containsExactly("tpl");
    }
}
