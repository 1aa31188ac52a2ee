package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.HorcruxException;
import io.horcrux.IllegalVmStateException;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmManager;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.BatchResult;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Page;
import io.horcrux.model.PortForward;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour of the {@link VmManager} facade over a store and a driver, both supplied by the
 * subclass: any {@link VmStore} with any {@link VmDriver}. What only the simulated driver can
 * provoke on demand (a failing driver call, a crash, a guest power-off) is in
 * {@link SimulatedVmManagerContract}, which a store's tests extend instead.
 *
 * <p>Each test builds a manager over {@link #newStore()} and {@link #newDriver()}; some build
 * further managers, each over a fresh store and driver, so the factories must hand out
 * independent instances (for a driver with a state directory: a new directory each time).
 */
public abstract class VmManagerContract {
    /** The driver of {@link #manager}. */
    protected VmDriver driver;
    /** The manager under test; closed after each test. */
    protected VmManager manager;
    /** Every event {@link #manager} delivered, in order. */
    protected final BlockingQueue<VmEvent> events = new LinkedBlockingQueue<>();

    /** A fresh, empty store; the manager closes it. */
    protected abstract VmStore newStore();

    /** A fresh driver with no VMs; the manager closes it. */
    protected abstract VmDriver newDriver();

    @BeforeEach
    void build() {
        driver = newDriver();
        manager = VmManager.builder().store(newStore()).driver(driver).build();
        manager.subscribe(events::add);
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** A VM of 64 MiB with one qcow2 disk, labelled {@code env=test}. */
    protected static VmSpec spec(String id) {
        return VmSpec.builder().id(id).name("VM " + id).memoryMiB(64).disk(DiskSpec.qcow2("root", 1L << 30))
                .label("env", "test").build();
    }

    /** Waits up to 20 s for {@code condition}, failing with {@code what} otherwise. */
    protected static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    /** The next event of {@link #manager}, waiting up to 20 s. */
    protected VmEvent nextEvent() throws InterruptedException {
        VmEvent e = events.poll(20, TimeUnit.SECONDS);
        assertThat(e).as("an event").isNotNull();
        return e;
    }

    // ---------------------------------------------------------------- disks from images

    /** Where the image tests keep their source images. */
    @org.junit.jupiter.api.io.TempDir
    protected java.nio.file.Path images;

    private java.nio.file.Path randomImage(String name, int bytes) throws java.io.IOException {
        byte[] content = new byte[bytes];
        new java.util.Random(name.hashCode()).nextBytes(content);
        return java.nio.file.Files.write(images.resolve(name), content);
    }

    @Test
    void aVmWithDisksFromImagesIsCreatedWithTheCopysProgressAndDeletedLeavingItsSources() throws Exception {
        java.nio.file.Path base = randomImage("base.img", 2 << 20);
        byte[] before = java.nio.file.Files.readAllBytes(base);
        VmSpec spec = VmSpec.builder().id("from-images").memoryMiB(64).disk(DiskSpec.overlay("root", base))
                .disk(DiskSpec.copyOf("copy", base)).disk(DiskSpec.cdrom("media", base)).build();
        java.util.List<io.horcrux.model.Progress> progress = new java.util.concurrent.CopyOnWriteArrayList<>();

        Vm vm = manager.create(spec, progress::add, io.horcrux.Cancellation.create());

        assertThat(vm.spec()).isEqualTo(spec);
        assertThat(manager.get("from-images").spec().disks()).extracting(DiskSpec::kind).containsExactly(
                io.horcrux.model.DiskKind.OVERLAY, io.horcrux.model.DiskKind.COPY, io.horcrux.model.DiskKind.CDROM);
        assertThat(progress).isNotEmpty();
        assertThat(progress.get(progress.size() - 1)).isEqualTo(
                new io.horcrux.model.Progress("from-images", io.horcrux.model.Progress.COPY, "copy", 100));
        assertThat(driver.provisionedIds()).contains("from-images");
        manager.delete("from-images");
        assertThat(driver.provisionedIds()).doesNotContain("from-images");
        assertThat(java.nio.file.Files.readAllBytes(base)).as("the source, never written or removed").isEqualTo(before);
    }

    @Test
    void aCancelledCreateAndARefusedSourceLeaveNoRowAndNothingProvisioned() throws Exception {
        java.nio.file.Path source = randomImage("golden.img", 4 << 20);
        VmSpec spec = VmSpec.builder().id("cancelled").memoryMiB(64).disk(DiskSpec.copyOf("root", source)).build();
        io.horcrux.Cancellation cancellation = io.horcrux.Cancellation.create();
        assertThatThrownBy(() -> manager.create(spec, p -> cancellation.cancel(), cancellation))
                .isInstanceOf(io.horcrux.OperationCancelledException.class);
        assertThat(manager.find("cancelled")).isEmpty();
        assertThat(driver.provisionedIds()).doesNotContain("cancelled");

        io.horcrux.Cancellation already = io.horcrux.Cancellation.create();
        already.cancel();
        assertThatThrownBy(() -> manager.create(spec("plain"), io.horcrux.ProgressListener.NONE, already))
                .as("a create cancelled before it began").isInstanceOf(io.horcrux.OperationCancelledException.class);
        assertThat(manager.find("plain")).isEmpty();
        assertThat(driver.provisionedIds()).doesNotContain("plain");

        VmSpec missing = VmSpec.builder().id("missing").memoryMiB(64)
                .disk(DiskSpec.overlay("root", images.resolve("not-there.img"))).build();
        assertThatThrownBy(() -> manager.create(missing)).isInstanceOf(io.horcrux.DriverException.class)
                .hasMessageContaining("disks[0].source").hasMessageContaining("not-there.img");
        assertThat(manager.find("missing")).isEmpty();
        assertThat(driver.provisionedIds()).doesNotContain("missing");
        assertThat(manager.count(VmQuery.all())).isZero();

        manager.create(spec); // nothing of the cancelled create is in the way
        assertThat(manager.get("cancelled").status()).isEqualTo(VmStatus.STOPPED);
    }

    // ---------------------------------------------------------------- create, read, delete

    @Test
    void createdVmIsStoppedAtVersionOneAndReadable() {
        Vm vm = manager.create(spec("web-1"));

        assertThat(vm.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(vm.version()).isEqualTo(1);
        assertThat(vm.spec()).isEqualTo(spec("web-1"));
        assertThat(vm.createdAt()).isEqualTo(vm.updatedAt());
        assertThat(manager.get("web-1")).isEqualTo(vm);
        assertThat(manager.find("web-1")).contains(vm);
        assertThat(manager.list(VmQuery.all()).items()).containsExactly(vm);
    }

    @Test
    void unknownIdsAreNotFound() {
        assertThat(manager.find("nope")).isEmpty();
        assertThatThrownBy(() -> manager.get("nope")).isInstanceOf(VmNotFoundException.class).hasMessageContaining("nope");
        assertThatThrownBy(() -> manager.start("nope")).isInstanceOf(VmNotFoundException.class);
        assertThatThrownBy(() -> manager.delete("nope")).isInstanceOf(VmNotFoundException.class);
    }

    @Test
    void duplicateCreateIsRefusedAndLeavesTheFirst() {
        Vm first = manager.create(spec("web-1"));
        assertThatThrownBy(() -> manager.create(spec("web-1"))).isInstanceOf(VmAlreadyExistsException.class);
        assertThat(manager.get("web-1")).isEqualTo(first);
    }

    @Test
    void openingRemovesWhatTheDriverProvisionedForVmsTheStoreDoesNotKnow() {
        manager.close();
        // What a crash between provisioning and the row (or between the row's delete and
        // deprovisioning) leaves: the driver holds disks for a VM the store does not know.
        VmDriver leftover = newDriver();
        leftover.provision(spec("orphan"));
        leftover.provision(spec("known"));
        VmStore store = newStore();
        store.insert(new Vm(spec("known"), VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null));
        manager = VmManager.builder().store(store).driver(leftover).build();

        assertThat(leftover.provisionedIds()).containsExactly("known");
        assertThat(manager.get("known").status()).isEqualTo(VmStatus.STOPPED);
        assertThat(manager.find("orphan")).isEmpty();
        assertThat(manager.create(spec("orphan")).status()).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void memoryAboveTheManagersLimitIsRefusedAndNothingIsStored() {
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).maxMemoryMiB(1024).build();
        VmSpec big = VmSpec.builder().id("big").memoryMiB(2048).build();

        assertThatThrownBy(() -> manager.create(big))
                .isInstanceOf(InvalidVmSpecException.class)
                .satisfies(e -> assertThat(((InvalidVmSpecException) e).violations())
                        .singleElement().satisfies(v -> {
                            assertThat(v.field()).isEqualTo("memoryMiB");
                            assertThat(v.rule()).contains("1024");
                        }));
        assertThat(manager.find("big")).isEmpty();
    }

    @Test
    void deleteRemovesTheVmAndFreesItsId() {
        manager.create(spec("web-1"));
        manager.delete("web-1");

        assertThat(manager.find("web-1")).isEmpty();
        assertThatThrownBy(() -> manager.get("web-1")).isInstanceOf(VmNotFoundException.class);
        assertThat(manager.create(spec("web-1")).version()).isEqualTo(1);
    }

    @Test
    void deletingAnActiveVmIsRefused() {
        manager.create(spec("web-1"));
        manager.start("web-1");
        assertThatThrownBy(() -> manager.delete("web-1"))
                .isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("RUNNING");
        assertThat(manager.get("web-1").status()).isEqualTo(VmStatus.RUNNING);
    }

    // ---------------------------------------------------------------- batches

    @Test
    void createAllIsAllOrNoneOnRepeatedIds() {
        manager.create(spec("taken"));
        List<VmSpec> specs = List.of(spec("a"), spec("taken"), spec("b"), spec("b"));

        assertThatThrownBy(() -> manager.createAll(specs))
                .isInstanceOf(VmAlreadyExistsException.class)
                .satisfies(e -> assertThat(((VmAlreadyExistsException) e).vmIds()).containsExactlyInAnyOrder("taken", "b"));
        assertThat(manager.count(VmQuery.all())).isEqualTo(1);
        assertThat(manager.find("a")).isEmpty();
    }

    @Test
    void createAllReportsTheViolationsOfEverySpecByIndex() {
        VmSpec ok = spec("ok");
        VmSpec huge = VmSpec.builder().id("huge").memoryMiB(VmSpec.MAX_MEMORY_MIB).build();
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).maxMemoryMiB(4096).build();

        assertThatThrownBy(() -> manager.createAll(List.of(ok, huge, huge.toBuilder().id("huge-2").build())))
                .isInstanceOf(InvalidVmSpecException.class)
                .satisfies(e -> assertThat(((InvalidVmSpecException) e).violations())
                        .extracting(v -> v.field()).containsExactly("[1].memoryMiB", "[2].memoryMiB"));
        assertThat(manager.count(VmQuery.all())).isZero();
    }

    @Test
    void batchOperationsReportEveryItemAndAFailureHidesNothing() {
        manager.createAll(List.of(spec("a"), spec("b"), spec("c")));
        manager.start("b");

        BatchResult<Vm> started = manager.startAll(List.of("a", "b", "missing", "c", "a"));

        assertThat(started.succeeded()).extracting(Vm::id).containsExactly("a", "c");
        assertThat(started.failed()).containsOnlyKeys("b", "missing");
        assertThat(started.failed().get("b")).isInstanceOf(IllegalVmStateException.class);
        assertThat(started.failed().get("missing")).isInstanceOf(VmNotFoundException.class);
        assertThat(started.allSucceeded()).isFalse();

        BatchResult<Vm> stopped = manager.stopAll(List.of("a", "b", "c"));
        assertThat(stopped.allSucceeded()).isTrue();
        assertThat(stopped.succeeded()).allSatisfy(vm -> assertThat(vm.status()).isEqualTo(VmStatus.STOPPED));

        BatchResult<String> deleted = manager.deleteAll(List.of("a", "b", "c", "missing"));
        assertThat(deleted.succeeded()).containsExactly("a", "b", "c");
        assertThat(deleted.failed()).containsOnlyKeys("missing");
        assertThat(manager.count(VmQuery.all())).isZero();
    }

    // ---------------------------------------------------------------- lifecycle and events

    @Test
    void lifecycleWalksTheStateMachineAndEmitsEachChangeOnceInOrder() throws InterruptedException {
        manager.create(spec("web-1"));

        Vm running = manager.start("web-1");
        assertThat(running.status()).isEqualTo(VmStatus.RUNNING);
        assertThat(running.version()).isEqualTo(3);
        assertThat(running.runtimeInfo()).isPresent();
        assertThat(manager.pause("web-1").status()).isEqualTo(VmStatus.PAUSED);
        assertThat(manager.resume("web-1").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(manager.reset("web-1").status()).isEqualTo(VmStatus.RUNNING);
        Vm stopped = manager.stop("web-1", Duration.ZERO);
        assertThat(stopped.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(stopped.runtimeInfo()).isEmpty();
        assertThat(manager.get("web-1")).isEqualTo(stopped);

        manager.delete("web-1");

        List<String> transitions = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            VmEvent e = nextEvent();
            assertThat(e.vmId()).isEqualTo("web-1");
            transitions.add(e.isStatusChange() ? e.previousStatus() + ">" + e.newStatus()
                    : e.kind() + "@" + e.newStatus() + "#" + e.version());
        }
        assertThat(transitions).containsExactly("CREATED@STOPPED#1", "STOPPED>STARTING", "STARTING>RUNNING",
                "RUNNING>PAUSED", "PAUSED>RUNNING", "RUNNING>STOPPING", "STOPPING>STOPPED", "DELETED@STOPPED#7");
        Thread.sleep(50);
        assertThat(events).isEmpty();
    }

    @Test
    void operationsTheStatusDoesNotAllowAreRefusedWithBothStatesNamed() {
        manager.create(spec("web-1"));
        assertThatThrownBy(() -> manager.pause("web-1")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("pause").hasMessageContaining("STOPPED");
        assertThatThrownBy(() -> manager.resume("web-1")).isInstanceOf(IllegalVmStateException.class);
        assertThatThrownBy(() -> manager.stop("web-1")).isInstanceOf(IllegalVmStateException.class);
        assertThatThrownBy(() -> manager.reset("web-1")).isInstanceOf(IllegalVmStateException.class);
        manager.start("web-1");
        assertThatThrownBy(() -> manager.start("web-1")).isInstanceOf(IllegalVmStateException.class)
                .satisfies(e -> {
                    IllegalVmStateException ise = (IllegalVmStateException) e;
                    assertThat(ise.current()).isEqualTo(VmStatus.RUNNING);
                    assertThat(ise.operation()).isEqualTo("start");
                });
        assertThatThrownBy(() -> manager.resume("web-1")).isInstanceOf(IllegalVmStateException.class);
        assertThat(manager.get("web-1").version()).isEqualTo(3);
    }

    @Test
    void negativeGraceIsRefused() {
        manager.create(spec("web-1"));
        manager.start("web-1");
        assertThatThrownBy(() -> manager.stop("web-1", Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("grace");
    }

    @Test
    void aListenerThatThrowsHarmsNoOneElse() throws Exception {
        List<VmEvent> seen = new CopyOnWriteArrayList<>();
        manager.subscribe(e -> {
            throw new IllegalStateException("bad listener");
        });
        AutoCloseable subscription = manager.subscribe(seen::add);
        manager.create(spec("web-1"));
        manager.start("web-1");
        await("three events (created, starting, running)", () -> seen.size() == 3);

        subscription.close();
        manager.stop("web-1", Duration.ZERO);
        await("the other listener's events", () -> events.size() >= 5);
        assertThat(seen).hasSize(3);
    }

    @Test
    void eventsOfEachVmArriveInOrderUnderConcurrentLifecycles() throws Exception {
        int vms = 8;
        int cycles = 25;
        manager.createAll(IntStream.range(0, vms).mapToObj(i -> spec("vm-" + i)).toList());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < vms; i++) {
                String id = "vm-" + i;
                futures.add(pool.submit(() -> {
                    for (int c = 0; c < cycles; c++) {
                        manager.start(id);
                        manager.pause(id);
                        manager.resume(id);
                        manager.stop(id, Duration.ZERO);
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        int expected = vms + vms * cycles * 6; // each VM's create, then its status changes
        await("every event", () -> events.size() == expected);
        Map<String, VmEvent> last = new HashMap<>();
        for (VmEvent e : events) {
            VmEvent previous = last.put(e.vmId(), e);
            if (previous != null) {
                assertThat(e.version()).isEqualTo(previous.version() + 1);
                assertThat(e.previousStatus()).isEqualTo(previous.newStatus());
            }
        }
        assertThat(last).hasSize(vms);
    }

    @Test
    void aStartedVmsForwardsAreInItsRuntimeFactsWithTheHostPortsBoundAndGoWhenItStops() {
        manager.create(spec("fwd").toBuilder()
                .nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 22), PortForward.udp(0, 53))).build());

        Vm started = manager.start("fwd");

        assertThat(started.runtime().forwards()).extracting(PortForward::protocol, PortForward::guestPort)
                .containsExactly(tuple(PortForward.Protocol.TCP, 22), tuple(PortForward.Protocol.UDP, 53));
        assertThat(started.runtime().forwards()).allSatisfy(f -> {
            assertThat(f.hostPort()).isBetween(1, 65535);
            assertThat(f.hostAddress()).isEqualTo(PortForward.LOOPBACK);
        });
        assertThat(manager.get("fwd").runtime()).isEqualTo(started.runtime());
        assertThat(manager.list(VmQuery.all()).items()).extracting(Vm::runtime).containsExactly(started.runtime());
        assertThat(manager.stop("fwd", Duration.ZERO).runtime()).isNull();
    }

    // ---------------------------------------------------------------- cache

    @Test
    void cacheNeverServesAnOlderVersionThanTheStoreUnderConcurrentWriters() throws Exception {
        int vms = 6;
        manager.createAll(IntStream.range(0, vms).mapToObj(i -> spec("vm-" + i)).toList());
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                futures.add(pool.submit(() -> {
                    for (int n = 0; n < 150; n++) {
                        String id = "vm-" + ThreadLocalRandom.current().nextInt(vms);
                        try {
                            Vm after = manager.get(id).status() == VmStatus.STOPPED ? manager.start(id)
                                    : manager.stop(id, Duration.ZERO);
                            // Once a write returns, no read may see an older version.
                            assertThat(manager.get(id).version()).isGreaterThanOrEqualTo(after.version());
                        } catch (IllegalVmStateException raced) {
                            // another writer changed the VM between our read and our call
                        }
                    }
                    return null;
                }));
            }
            for (int r = 0; r < 3; r++) {
                futures.add(pool.submit(() -> {
                    long[] lastSeen = new long[vms];
                    for (int n = 0; n < 3000; n++) {
                        int i = ThreadLocalRandom.current().nextInt(vms);
                        long version = manager.get("vm-" + i).version();
                        assertThat(version).isGreaterThanOrEqualTo(lastSeen[i]);
                        lastSeen[i] = version;
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        try (Stream<Vm> stored = manager.stream(VmQuery.all())) {
            stored.forEach(vm -> assertThat(manager.get(vm.id())).isEqualTo(vm));
        }
    }

    @Test
    void cacheCountsHitsAndMisses() {
        manager.create(spec("web-1"));
        manager.get("web-1");
        manager.get("web-1");
        manager.find("missing");

        assertThat(manager.cacheStats().hitCount()).isGreaterThanOrEqualTo(2);
        assertThat(manager.cacheStats().missCount()).isGreaterThanOrEqualTo(1);
        assertThat(manager.cacheStats().size()).isEqualTo(1);
    }

    @Test
    void withTheCacheOffEveryReadGoesToTheStore() {
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).cacheMaximumSize(0).build();
        manager.create(spec("web-1"));
        manager.start("web-1");
        assertThat(manager.get("web-1").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(manager.cacheStats().hitCount()).isZero();
        manager.delete(manager.stop("web-1", Duration.ZERO).id());
        assertThat(manager.find("web-1")).isEmpty();
    }

    // ---------------------------------------------------------------- list, stream, JSON

    @Test
    void listAndStreamFilterAndPage() {
        manager.createAll(IntStream.range(0, 30).mapToObj(i -> spec(String.format("vm-%02d", i))).toList());
        manager.start("vm-03");
        manager.start("vm-17");

        assertThat(manager.list(VmQuery.all().withStatus(VmStatus.RUNNING)).items()).extracting(Vm::id)
                .containsExactly("vm-03", "vm-17");
        Page<Vm> first = manager.list(VmQuery.all().limit(20));
        Page<Vm> second = manager.list(VmQuery.all().limit(20).after(first.nextCursor().orElseThrow()));
        assertThat(first.items()).hasSize(20);
        assertThat(second.items()).hasSize(10);
        assertThat(second.nextCursor()).isEmpty();
        long labelled = manager.withStream(VmQuery.all().withLabel("env", "test"), Stream::count);
        assertThat(labelled).isEqualTo(30);
        assertThat(manager.count(VmQuery.all().withStatus(VmStatus.STOPPED))).isEqualTo(28);
    }

    @Test
    void inventoryExportsAndImportsAsJson() {
        manager.createAll(List.of(spec("a"), spec("b").toBuilder().label("team", "x, y = \"z\"").build()));
        manager.start("a");
        ByteArrayOutputStream out = new ByteArrayOutputStream();

        assertThat(manager.exportJson(out)).isEqualTo(2);

        String json = out.toString(StandardCharsets.UTF_8);
        assertThat(json).startsWith("{\"format\":\"horcrux-inventory\"");
        try (VmManager other = VmManager.builder().store(newStore()).driver(newDriver()).build()) {
            List<Vm> imported = other.importJson(new ByteArrayInputStream(out.toByteArray()));
            assertThat(imported).extracting(Vm::spec).containsExactly(manager.get("a").spec(), manager.get("b").spec());
            assertThat(imported).allSatisfy(vm -> assertThat(vm.status()).isEqualTo(VmStatus.STOPPED));
        }
    }

    @Test
    void importOfSomethingElseFailsClearlyAndStoresNothing() {
        byte[] notInventory = "{\"vms\":[]}".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> manager.importJson(new ByteArrayInputStream(notInventory)))
                .isInstanceOf(HorcruxException.class).hasMessageContaining("format");
        byte[] broken = "{\"format\":\"horcrux-inventory\",\"vms\":[{\"spec\":".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> manager.importJson(new ByteArrayInputStream(broken)))
                .isInstanceOf(HorcruxException.class).hasMessageContaining("not a Horcrux inventory");
        assertThat(manager.count(VmQuery.all())).isZero();
    }

    // ---------------------------------------------------------------- metrics, close

    @Test
    void metricsTimeEveryOperationByOutcome() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).meterRegistry(registry).build();
        manager.create(spec("web-1"));
        manager.start("web-1");
        assertThatThrownBy(() -> manager.start("web-1")).isInstanceOf(IllegalVmStateException.class);
        manager.get("web-1");
        System.gc(); // the cache meters must outlive a collection while the manager lives

        assertThat(registry.get("horcrux.vm.operation").tags("operation", "start", "outcome", "success").timer().count())
                .isEqualTo(1);
        assertThat(registry.get("horcrux.vm.operation").tags("operation", "start", "outcome", "IllegalVmStateException")
                .timer().count()).isEqualTo(1);
        assertThat(registry.get("horcrux.cache.size").gauge().value()).isEqualTo(1.0);
        assertThat(registry.get("horcrux.cache.requests").tag("result", "hit").functionCounter().count()).isPositive();
    }

    @Test
    void stopVmsOnCloseStopsWhatRuns() {
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).stopVmsOnClose(true).build();
        manager.createAll(List.of(spec("a"), spec("b")));
        manager.start("a");
        manager.start("b");
        manager.pause("b");
        List<VmEvent> seen = new CopyOnWriteArrayList<>();
        manager.subscribe(seen::add);

        manager.close();

        assertThat(seen).filteredOn(e -> e.isStatusChange() && e.newStatus() == VmStatus.STOPPED)
                .extracting(VmEvent::vmId).containsExactlyInAnyOrder("a", "b");
    }

    @Test
    void closeIsIdempotentAndLaterCallsFail() {
        manager.create(spec("web-1"));
        manager.close();
        manager.close();
        assertThatThrownBy(() -> manager.get("web-1")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> manager.create(spec("b"))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> manager.start("web-1")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> manager.list(VmQuery.all())).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> manager.startAll(List.of("web-1"))).isInstanceOf(IllegalStateException.class);
    }

    // ---------------------------------------------------------------- errors as promised

    @Test
    void aFailingOutputStreamIsAnInventoryJsonExceptionWithTheIoCause() {
        manager.create(spec("web-1"));
        java.io.OutputStream broken = new java.io.OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                throw new java.io.IOException("disk full");
            }
        };
        assertThatThrownBy(() -> manager.exportJson(broken)).isInstanceOf(io.horcrux.InventoryJsonException.class)
                .hasMessageContaining("disk full").hasCauseInstanceOf(java.io.IOException.class);
    }

    @Test
    void aFailingOrMalformedImportIsAnInventoryJsonExceptionAndStoresNothing() {
        java.io.InputStream broken = new java.io.InputStream() {
            @Override
            public int read() throws java.io.IOException {
                throw new java.io.IOException("connection reset");
            }
        };
        assertThatThrownBy(() -> manager.importJson(broken)).isInstanceOf(io.horcrux.InventoryJsonException.class)
                .hasMessageContaining("connection reset").hasCauseInstanceOf(java.io.IOException.class);
        byte[] array = "[]".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> manager.importJson(new ByteArrayInputStream(array)))
                .isInstanceOf(io.horcrux.InventoryJsonException.class).hasMessageContaining("expected a JSON object");
        byte[] wrongFormat = "{\"format\":\"other\",\"vms\":[]}".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> manager.importJson(new ByteArrayInputStream(wrongFormat)))
                .isInstanceOf(io.horcrux.InventoryJsonException.class).hasMessageContaining("'other'");
        assertThat(manager.count(VmQuery.all())).isZero();
    }

    @Test
    void aSubscriptionClosesWithoutCheckedExceptionsAndIdempotently() throws InterruptedException {
        List<VmEvent> seen = new CopyOnWriteArrayList<>();
        io.horcrux.Subscription subscription = manager.subscribe(seen::add);
        manager.create(spec("web-1"));
        manager.start("web-1");
        await("three events (created, starting, running)", () -> seen.size() == 3);
        subscription.close();
        subscription.close();
        manager.stop("web-1", Duration.ZERO);
        await("the other listener's events", () -> events.size() >= 5);
        assertThat(seen).hasSize(3);
    }

    @Test
    void theConsoleOfAStoppedVmRefusesInputAndEndsAnAwaitAtOnceNamingWhatItSaw() {
        manager.create(spec("web-1"));
        io.horcrux.VmConsole console = manager.console("web-1");
        assertThat(console.vmId()).isEqualTo("web-1");
        assertThatThrownBy(() -> console.write("ls\n")).isInstanceOf(io.horcrux.IllegalVmStateException.class)
                .hasMessageContaining("web-1").hasMessageContaining("STOPPED");
        long started = System.nanoTime();
        assertThatThrownBy(() -> console.await(java.util.regex.Pattern.compile("login:"), Duration.ofSeconds(60)))
                .isInstanceOf(io.horcrux.ConsoleTimeoutException.class).hasMessageContaining("web-1")
                .hasMessageContaining("login:");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        assertThatThrownBy(() -> manager.console("nope")).isInstanceOf(io.horcrux.VmNotFoundException.class);
    }

    @Test
    void badConsoleArgumentsAreRefusedNamingTheRule() {
        manager.create(spec("web-1"));
        manager.start("web-1");
        io.horcrux.VmConsole console = manager.console("web-1");
        assertThatThrownBy(() -> console.write(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> console.write("x".repeat(io.horcrux.VmConsole.MAX_WRITE_BYTES + 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most " + io.horcrux.VmConsole.MAX_WRITE_BYTES);
        assertThatThrownBy(() -> console.await(null, Duration.ZERO)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> console.await(java.util.regex.Pattern.compile("x"), Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout must not be negative");
        assertThatThrownBy(() -> console.follow(null)).isInstanceOf(NullPointerException.class);
        manager.stop("web-1", Duration.ZERO);
    }

    // ---------------------------------------------------------------- live stats

    @Test
    void statsAreReadOfRunningAndPausedVmsAndRefusedOtherwise() {
        manager.create(spec("web-1"));
        assertThatThrownBy(() -> manager.stats("web-1")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("web-1").hasMessageContaining("STOPPED");
        assertThatThrownBy(() -> manager.stats("nobody")).isInstanceOf(VmNotFoundException.class)
                .hasMessageContaining("nobody");
        assertThatThrownBy(() -> manager.stats(null)).isInstanceOf(NullPointerException.class);
        manager.start("web-1");
        VmStats running = manager.stats("web-1");
        assertThat(running.disks()).containsOnlyKeys("root");
        assertThat(running.cpuTime()).as("vCPU time within what its vCPUs could use")
                .isLessThanOrEqualTo(running.uptime().multipliedBy(manager.get("web-1").spec().cpus()).plusSeconds(1));
        manager.pause("web-1");
        assertThat(manager.stats("web-1").uptime()).isGreaterThanOrEqualTo(running.uptime());
        manager.stop("web-1", Duration.ZERO);
        assertThatThrownBy(() -> manager.stats("web-1")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("STOPPED");
    }

    @Test
    void statsAllReadsEveryRunningVmInTheOrderGivenAndLeavesOutTheOthers() {
        for (String id : List.of("a", "b", "c", "idle")) {
            manager.create(spec(id));
        }
        manager.startAll(List.of("a", "b", "c"));
        manager.pause("b");
        Map<String, VmStats> all = manager.statsAll(List.of("c", "idle", "a", "nobody", "b", "c"));
        assertThat(List.copyOf(all.keySet())).containsExactly("c", "a", "b");
        assertThat(all.values()).allSatisfy(stats -> assertThat(stats.disks()).containsOnlyKeys("root"));
        assertThat(manager.statsAll(List.of())).isEmpty();
        assertThat(manager.statsAll(List.of("idle", "nobody"))).isEmpty();
        assertThatThrownBy(() -> all.put("x", all.get("a"))).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> manager.statsAll(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> manager.statsAll(java.util.Arrays.asList("a", null)))
                .isInstanceOf(NullPointerException.class);
    }

    // ---------------------------------------------------------------- snapshots

    private static io.horcrux.model.Snapshot named(List<io.horcrux.model.Snapshot> snapshots, String name) {
        return snapshots.stream().filter(x -> x.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no snapshot " + name + " in " + snapshots));
    }

    private static List<String> currentOf(List<io.horcrux.model.Snapshot> snapshots) {
        return snapshots.stream().filter(io.horcrux.model.Snapshot::current).map(io.horcrux.model.Snapshot::name).toList();
    }

    @Test
    void snapshotsOfAStoppedVmFormATreeThatRevertsBranchAndDeleteReshape() throws InterruptedException {
        manager.create(spec("snap-tree"));
        io.horcrux.model.Snapshot a = manager.snapshot("snap-tree", "a");
        assertThat(a.parent()).isEmpty();
        assertThat(a.withMemory()).isFalse();
        assertThat(a.current()).isTrue();
        assertThat(a.takenWhile()).isEqualTo(VmStatus.STOPPED);
        assertThat(manager.snapshot("snap-tree", "b").parent()).contains("a");

        Vm reverted = manager.revert("snap-tree", "a");
        assertThat(reverted.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(currentOf(manager.snapshots("snap-tree"))).containsExactly("a");
        assertThat(manager.snapshot("snap-tree", "c").parent()).as("a snapshot after a revert branches").contains("a");
        List<io.horcrux.model.Snapshot> tree = manager.snapshots("snap-tree");
        assertThat(tree).extracting(io.horcrux.model.Snapshot::name).containsExactly("a", "b", "c");
        assertThat(named(tree, "b").parent()).contains("a");
        assertThat(currentOf(tree)).containsExactly("c");

        manager.deleteSnapshot("snap-tree", "a");
        tree = manager.snapshots("snap-tree");
        assertThat(tree).extracting(io.horcrux.model.Snapshot::name).containsExactly("b", "c");
        assertThat(tree).allSatisfy(x -> assertThat(x.parent()).as("children of a deleted root are roots").isEmpty());
        assertThat(manager.start("snap-tree").status()).isEqualTo(VmStatus.RUNNING);
        manager.stop("snap-tree", Duration.ZERO);
        await("the snapshot events", () -> events.stream().anyMatch(e -> e.reason().contains("snapshot 'a' deleted")));
        assertThat(events).filteredOn(e -> e.vmId().equals("snap-tree")).extracting(VmEvent::reason)
                .anySatisfy(r -> assertThat(r).startsWith("snapshot 'a' taken"))
                .anySatisfy(r -> assertThat(r).isEqualTo("reverted to snapshot 'a'"));
        assertThat(events).filteredOn(e -> e.vmId().equals("snap-tree") && !e.isStatusChange())
                .as("each snapshot operation is an event of its kind, the snapshot's name its subject")
                .extracting(e -> e.kind() + " " + e.subject().orElse("?"))
                .containsSubsequence("SNAPSHOT_TAKEN a", "SNAPSHOT_TAKEN b", "REVERTED a", "SNAPSHOT_TAKEN c",
                        "SNAPSHOT_DELETED a");
        assertThat(events).filteredOn(e -> e.kind() == VmEvent.Kind.REVERTED)
                .allSatisfy(e -> assertThat(e.newStatus()).isEqualTo(e.previousStatus()));
    }

    @Test
    void aRevertThatChangesTheStatusPublishesTheChangeAndTheRevert() throws InterruptedException {
        manager.create(spec("snap-events"));
        manager.start("snap-events");
        manager.pause("snap-events");
        manager.snapshot("snap-events", "paused");
        manager.resume("snap-events");
        Vm after = manager.revert("snap-events", "paused");
        assertThat(after.status()).isEqualTo(VmStatus.PAUSED);
        await("the revert's events", () -> events.stream().anyMatch(e -> e.kind() == VmEvent.Kind.REVERTED));
        assertThat(events).filteredOn(e -> e.vmId().equals("snap-events"))
                .extracting(e -> e.kind() + " " + e.previousStatus() + ">" + e.newStatus() + " " + e.subject().orElse("-"))
                .as("the revert's two events, last").endsWith("STATUS_CHANGED RUNNING>PAUSED -", "REVERTED PAUSED>PAUSED paused");
        assertThat(events).filteredOn(e -> e.kind() == VmEvent.Kind.REVERTED).singleElement()
                .satisfies(e -> assertThat(e.version()).isEqualTo(after.version()));
    }

    @Test
    void snapshotOperationsAreTimedWithTheirOutcome() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).meterRegistry(registry).build();
        manager.create(spec("snap-timed"));
        manager.snapshot("snap-timed", "s1");
        assertThatThrownBy(() -> manager.snapshot("snap-timed", "s1"))
                .isInstanceOf(io.horcrux.SnapshotAlreadyExistsException.class);
        manager.revert("snap-timed", "s1");
        assertThatThrownBy(() -> manager.revert("snap-timed", "nope"))
                .isInstanceOf(io.horcrux.SnapshotNotFoundException.class);
        manager.deleteSnapshot("snap-timed", "s1");
        for (String[] timed : new String[][] {{"snapshot", "success"}, {"snapshot", "SnapshotAlreadyExistsException"},
                {"revert", "success"}, {"revert", "SnapshotNotFoundException"}, {"deleteSnapshot", "success"}}) {
            assertThat(registry.get("horcrux.vm.operation").tags("operation", timed[0], "outcome", timed[1]).timer()
                    .count()).as(String.join(" ", timed)).isEqualTo(1);
        }
    }

    @Test
    void snapshotsOfARunningVmHoldItsMemoryUnlessAskedForDisksOnly() {
        manager.create(spec("snap-live"));
        manager.start("snap-live");
        io.horcrux.model.Snapshot live = manager.snapshot("snap-live", "live");
        assertThat(live.withMemory()).isTrue();
        assertThat(live.takenWhile()).isEqualTo(VmStatus.RUNNING);
        io.horcrux.model.Snapshot disks = manager.snapshot("snap-live", "disks", io.horcrux.model.SnapshotMode.DISKS_ONLY);
        assertThat(disks.withMemory()).isFalse();
        assertThat(disks.parent()).contains("live");
        manager.pause("snap-live");
        assertThat(manager.snapshot("snap-live", "paused").takenWhile()).isEqualTo(VmStatus.PAUSED);
        manager.stop("snap-live", Duration.ZERO);

        assertThat(manager.revert("snap-live", "live").status()).as("a stopped VM reverted with memory runs")
                .isEqualTo(VmStatus.RUNNING);
        assertThat(manager.revert("snap-live", "paused").status()).isEqualTo(VmStatus.PAUSED);
        assertThat(manager.revert("snap-live", "disks").status()).as("a running VM reverted to its disks is stopped")
                .isEqualTo(VmStatus.STOPPED);
        assertThat(currentOf(manager.snapshots("snap-live"))).containsExactly("disks");
        manager.deleteSnapshot("snap-live", "live");
        assertThat(named(manager.snapshots("snap-live"), "disks").parent()).isEmpty();
    }

    @Test
    void badSnapshotInputIsRefusedClearlyAndChangesNothing() {
        manager.create(spec("snap-bad"));
        manager.create(spec("snap-other"));
        manager.snapshot("snap-bad", "taken");
        manager.snapshot("snap-other", "theirs");
        List<io.horcrux.model.Snapshot> before = manager.snapshots("snap-bad");

        for (String hostile : List.of("", "../etc", "a;rm -rf /", "-flag", "UPPER", "with space", "tab\tname",
                "line\nbreak", "x".repeat(64), "id=1,file=/etc/passwd")) {
            assertThatThrownBy(() -> manager.snapshot("snap-bad", hostile)).as(hostile)
                    .isInstanceOf(io.horcrux.InvalidSnapshotException.class).hasMessageContaining("[a-z0-9]");
            assertThatThrownBy(() -> manager.revert("snap-bad", hostile)).as(hostile)
                    .isInstanceOf(io.horcrux.InvalidSnapshotException.class);
            assertThatThrownBy(() -> manager.deleteSnapshot("snap-bad", hostile)).as(hostile)
                    .isInstanceOf(io.horcrux.InvalidSnapshotException.class);
        }
        assertThatThrownBy(() -> manager.snapshot("snap-bad", "taken"))
                .isInstanceOf(io.horcrux.SnapshotAlreadyExistsException.class).hasMessageContaining("taken");
        assertThatThrownBy(() -> manager.revert("snap-bad", "theirs"))
                .isInstanceOf(io.horcrux.SnapshotNotFoundException.class).hasMessageContaining("snap-bad")
                .hasMessageContaining("theirs");
        assertThatThrownBy(() -> manager.deleteSnapshot("snap-bad", "theirs"))
                .isInstanceOf(io.horcrux.SnapshotNotFoundException.class);
        assertThatThrownBy(() -> manager.snapshot("snap-nobody", "x")).isInstanceOf(VmNotFoundException.class);
        assertThatThrownBy(() -> manager.snapshots("snap-nobody")).isInstanceOf(VmNotFoundException.class);
        assertThatThrownBy(() -> manager.snapshot("snap-bad", null)).isInstanceOf(NullPointerException.class);
        assertThat(manager.snapshots("snap-bad")).isEqualTo(before);
        assertThat(manager.snapshots("snap-other")).extracting(io.horcrux.model.Snapshot::name).containsExactly("theirs");
        if (driver.supportsSnapshots()) {
            // Nothing refused reached the images: each disk holds what the tree says, no more.
            assertThat(driver.snapshotNames(manager.get("snap-bad")).values()).isNotEmpty()
                    .allSatisfy(names -> assertThat(names).containsExactly("taken"));
            assertThat(driver.snapshotNames(manager.get("snap-other")).values()).isNotEmpty()
                    .allSatisfy(names -> assertThat(names).containsExactly("theirs"));
        }

        manager.create(VmSpec.builder().id("snap-diskless").memoryMiB(64).build());
        assertThatThrownBy(() -> manager.snapshot("snap-diskless", "s1"))
                .isInstanceOf(io.horcrux.InvalidSnapshotException.class).hasMessageContaining("no disk");
        manager.create(VmSpec.builder().id("snap-raw").memoryMiB(64).disk(DiskSpec.qcow2("root", 1L << 30))
                .disk(DiskSpec.raw("data", 1L << 20)).build());
        assertThatThrownBy(() -> manager.snapshot("snap-raw", "s1"))
                .isInstanceOf(io.horcrux.InvalidSnapshotException.class).hasMessageContaining("'data'")
                .hasMessageContaining("raw");
        assertThat(manager.snapshots("snap-diskless")).isEmpty();
        assertThat(manager.snapshots("snap-raw")).isEmpty();
    }

    @Test
    void aDeletedVmTakesItsSnapshotsWithIt() {
        manager.create(spec("snap-gone"));
        manager.snapshot("snap-gone", "s1");
        manager.delete("snap-gone");
        manager.create(spec("snap-gone"));
        assertThat(manager.snapshots("snap-gone")).isEmpty();
        manager.snapshot("snap-gone", "s1");
    }

    // ---------------------------------------------------------------- hosts and ownership

    @Test
    void aManagerOwnsWhatItCreatesAndNamesItsHost() {
        assertThat(manager.host()).isEqualTo(Vm.DEFAULT_HOST);
        assertThat(manager.create(spec("mine")).owner()).isEqualTo(Vm.DEFAULT_HOST);
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).host("rack-2-node-7").build();
        assertThat(manager.host()).isEqualTo("rack-2-node-7");
        Vm vm = manager.create(spec("web-1"));
        assertThat(vm.owner()).isEqualTo("rack-2-node-7");
        assertThat(manager.get("web-1").owner()).isEqualTo("rack-2-node-7");
        assertThat(manager.createAll(List.of(spec("b1"), spec("b2")))).extracting(Vm::owner)
                .containsOnly("rack-2-node-7");
    }

    @Test
    void hostNamesFollowTheIdRuleAndLeaseSettingsAreChecked() {
        for (String bad : List.of("", "Upper", "-lead", "under_score", "dot.ted", "x".repeat(64), "a b", "a;b")) {
            assertThatThrownBy(() -> VmManager.builder().host(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[a-z0-9][a-z0-9-]{0,62}");
        }
        assertThatThrownBy(() -> VmManager.builder().host(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> VmManager.builder().host("a").host("b")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> VmManager.builder().leaseTtl(Duration.ofMillis(10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaseTtl");
        assertThatThrownBy(() -> VmManager.builder().leaseRenewal(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaseRenewal");
        assertThatThrownBy(() -> VmManager.builder().takeoverGrace(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("takeoverGrace");
        VmStore store = newStore();
        VmDriver spare = newDriver();
        try {
            assertThatThrownBy(() -> VmManager.builder().store(store).driver(spare).leaseTtl(Duration.ofSeconds(3))
                    .leaseRenewal(Duration.ofSeconds(2)).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("leaseTtl").hasMessageContaining("at least twice leaseRenewal");
            assertThat(store.count(VmQuery.all())).isZero();
        } finally {
            spare.close();
            store.close();
        }
    }

    @Test
    void aVmOfAnotherHostIsListedAndReadButNeverRunHere() {
        manager.close();
        VmStore store = newStore();
        Vm theirs = new Vm(spec("theirs"), VmStatus.STOPPED, 3, Instant.EPOCH, Instant.EPOCH, "", null, "other-host");
        store.insert(theirs);
        manager = VmManager.builder().store(store).driver(newDriver()).build();

        assertThat(manager.get("theirs")).isEqualTo(theirs);
        assertThat(manager.list(VmQuery.all()).items()).containsExactly(theirs);
        for (Runnable refused : List.<Runnable>of(() -> manager.start("theirs"), () -> manager.delete("theirs"),
                () -> manager.stats("theirs"), () -> manager.snapshot("theirs", "s1"),
                () -> manager.revert("theirs", "s1"), () -> manager.deleteSnapshot("theirs", "s1"))) {
            assertThatThrownBy(refused::run).isInstanceOf(io.horcrux.VmOwnedElsewhereException.class)
                    .hasMessageContaining("owned by host 'other-host'").hasMessageContaining("'local'");
        }
        assertThat(manager.startAll(List.of("theirs")).failed()).containsOnlyKeys("theirs");
        assertThat(manager.get("theirs")).isEqualTo(theirs);
    }

    @Test
    void reattachingLeavesTheActiveVmsOfOtherHostsAlone() {
        manager.close();
        VmStore store = newStore();
        Vm theirs = new Vm(spec("theirs"), VmStatus.RUNNING, 5, Instant.EPOCH, Instant.EPOCH, "started",
                new io.horcrux.model.VmRuntime(1, "elsewhere"), "other-host");
        store.insert(theirs);
        manager = VmManager.builder().store(store).driver(newDriver()).build();

        assertThat(manager.get("theirs")).as("another host's running VM, untouched").isEqualTo(theirs);
    }

    @Test
    void moveToGivesAStoppedVmToAKnownHostAndRefusesBadMovesChangingNothing() {
        manager.close();
        VmStore store = newStore();
        store.insert(new Vm(spec("theirs"), VmStatus.STOPPED, 3, Instant.EPOCH, Instant.EPOCH, "", null, "gone-host"));
        manager = VmManager.builder().store(store).driver(newDriver()).host("here").build();
        manager.subscribe(events::add);
        Vm running = manager.create(spec("busy"));
        manager.start("busy");
        Vm busy = manager.get("busy");

        assertThat(manager.moveTo("busy", "here")).as("already its owner: unchanged").isEqualTo(busy);
        assertThatThrownBy(() -> manager.moveTo("busy", "gone-host")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("RUNNING");
        assertThatThrownBy(() -> manager.moveTo("theirs", "nowhere")).isInstanceOf(io.horcrux.HostNotFoundException.class)
                .hasMessageContaining("'nowhere'").hasMessageContaining("here");
        assertThatThrownBy(() -> manager.moveTo("theirs", "Not A Host")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[a-z0-9][a-z0-9-]{0,62}");
        assertThatThrownBy(() -> manager.moveTo("nope", "here")).isInstanceOf(VmNotFoundException.class);
        assertThat(manager.get("busy")).isEqualTo(busy);
        assertThat(manager.get("theirs").owner()).isEqualTo("gone-host");

        Vm adopted = manager.moveTo("theirs", "here");
        assertThat(adopted.owner()).isEqualTo("here");
        assertThat(adopted.version()).isEqualTo(4);
        assertThat(adopted.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(adopted.statusReason()).contains("gone-host").contains("here");
        assertThat(manager.get("theirs")).isEqualTo(adopted);
        assertThat(manager.moveTo("theirs", "here")).as("already there: unchanged").isEqualTo(adopted);
        assertThat(running.owner()).isEqualTo("here");
        manager.stop("busy", Duration.ZERO);
    }

    // ---------------------------------------------------------------- templates and clones

    /** Waits for an event of {@code kind} on {@code vmId} and returns it. */
    private VmEvent awaitEvent(String vmId, VmEvent.Kind kind) throws InterruptedException {
        await(kind + " of " + vmId, () -> events.stream().anyMatch(e -> e.vmId().equals(vmId) && e.kind() == kind));
        return events.stream().filter(e -> e.vmId().equals(vmId) && e.kind() == kind).findFirst().orElseThrow();
    }

    @Test
    void aTemplateNeverStartsNorChangesAndIsListedAsOne() throws InterruptedException {
        manager.create(spec("golden"));
        Vm template = manager.makeTemplate("golden");
        assertThat(template.status()).isEqualTo(VmStatus.TEMPLATE);
        assertThat(template.version()).isEqualTo(2);
        assertThat(manager.get("golden")).isEqualTo(template);
        VmEvent made = awaitEvent("golden", VmEvent.Kind.TEMPLATE_MADE);
        assertThat(made.previousStatus()).isEqualTo(VmStatus.STOPPED);
        assertThat(made.newStatus()).isEqualTo(VmStatus.TEMPLATE);
        assertThat(made.version()).isEqualTo(2);

        assertThatThrownBy(() -> manager.start("golden")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("template never starts").hasMessageContaining("clone");
        assertThatThrownBy(() -> manager.makeTemplate("golden")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("only a STOPPED VM");
        assertThatThrownBy(() -> manager.snapshot("golden", "s1")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("TEMPLATE");
        assertThatThrownBy(() -> manager.stop("golden")).isInstanceOf(IllegalVmStateException.class);
        assertThatThrownBy(() -> manager.moveTo("golden", manager.host() + "-x")).isInstanceOf(HorcruxException.class);
        assertThat(manager.get("golden")).as("refusals change nothing").isEqualTo(template);

        manager.create(spec("running"));
        manager.start("running");
        assertThatThrownBy(() -> manager.makeTemplate("running")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("RUNNING");
        assertThat(manager.get("running").status()).isEqualTo(VmStatus.RUNNING);
        assertThatThrownBy(() -> manager.makeTemplate("nobody")).isInstanceOf(VmNotFoundException.class);

        assertThat(manager.list(VmQuery.all().withStatus(VmStatus.TEMPLATE)).items()).extracting(Vm::id)
                .containsExactly("golden");
        manager.delete("golden"); // no clone uses it
        assertThat(manager.find("golden")).isEmpty();
        assertThat(driver.provisionedIds()).doesNotContain("golden");
    }

    @Test
    void aLinkedCloneHasItsOwnIdentityAndKeepsItsTemplateUntilItGoes() throws InterruptedException {
        VmSpec source = spec("tpl").toBuilder().nic(NicSpec.user("eth0")).label("tier", "web")
                .cloudInit(io.horcrux.model.CloudInit.userData("#cloud-config\n")
                        .withMetaData("instance-id: tpl-1\nlocal-hostname: tpl\n"))
                .build();
        manager.create(source);
        manager.makeTemplate("tpl");

        Vm clone = manager.clone("tpl", "web-a", "Web A", io.horcrux.model.CloneMode.LINKED,
                io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create());
        Vm second = manager.clone("tpl", "web-b", io.horcrux.model.CloneMode.LINKED);

        assertThat(clone.id()).isEqualTo("web-a");
        assertThat(clone.spec().name()).isEqualTo("Web A");
        assertThat(second.spec().name()).as("named like its id unless given a name").isEqualTo("web-b");
        assertThat(clone.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(clone.version()).isEqualTo(1);
        assertThat(clone.owner()).isEqualTo(manager.host());
        assertThat(clone.spec().labels()).isEqualTo(source.labels());
        assertThat(clone.spec().disks()).isEqualTo(source.disks());
        assertThat(clone.spec().memoryMiB()).isEqualTo(source.memoryMiB());
        assertThat(clone.spec().nics()).extracting(NicSpec::name).containsExactly("eth0");
        assertThat(clone.spec().nics().get(0).mac()).as("a new MAC address")
                .isNotEqualTo(source.nics().get(0).mac()).isNotEqualTo(second.spec().nics().get(0).mac());
        assertThat(clone.spec().cloudInit().userData()).isEqualTo(source.cloudInit().userData());
        assertThat(clone.spec().cloudInit().metaDataFor("web-a")).as("a new instance-id")
                .contains("instance-id: web-a").doesNotContain("tpl-1").contains("local-hostname: tpl");
        assertThat(manager.get("web-a")).isEqualTo(clone);

        VmEvent cloned = awaitEvent("tpl", VmEvent.Kind.CLONED);
        assertThat(cloned.subject()).contains("web-a");
        assertThat(cloned.newStatus()).isEqualTo(VmStatus.TEMPLATE);
        VmEvent created = awaitEvent("web-a", VmEvent.Kind.CREATED);
        assertThat(created.subject()).contains("tpl");
        assertThat(created.newStatus()).isEqualTo(VmStatus.STOPPED);

        manager.start("web-a");
        assertThat(manager.get("web-a").status()).isEqualTo(VmStatus.RUNNING);
        Vm before = manager.get("tpl");
        assertThatThrownBy(() -> manager.delete("tpl")).isInstanceOf(io.horcrux.TemplateInUseException.class)
                .hasMessageContaining("web-a").hasMessageContaining("web-b")
                .satisfies(e -> assertThat(((io.horcrux.TemplateInUseException) e).cloneIds()).containsExactly("web-a", "web-b"));
        assertThat(manager.get("tpl")).as("a refused delete changes nothing").isEqualTo(before);
        assertThat(driver.provisionedIds()).contains("tpl");

        manager.stop("web-a", Duration.ZERO);
        manager.delete("web-a");
        assertThatThrownBy(() -> manager.delete("tpl")).isInstanceOf(io.horcrux.TemplateInUseException.class)
                .hasMessageContaining("web-b").hasMessageNotContaining("web-a");
        manager.delete("web-b");
        manager.delete("tpl");
        assertThat(driver.provisionedIds()).doesNotContain("tpl", "web-a", "web-b");
    }

    @Test
    void aFullCloneIsIndependentOfItsSourceAndCancelledLeavesNothing() throws InterruptedException {
        manager.create(spec("src"));
        List<io.horcrux.model.Progress> progress = new CopyOnWriteArrayList<>();
        Vm full = manager.clone("src", "copy-1", null, io.horcrux.model.CloneMode.FULL, progress::add,
                io.horcrux.Cancellation.create());
        assertThat(full.spec().disks()).isEqualTo(manager.get("src").spec().disks());
        assertThat(progress).isNotEmpty();
        assertThat(progress.get(progress.size() - 1)).isEqualTo(
                new io.horcrux.model.Progress("copy-1", io.horcrux.model.Progress.COPY, "root", 100));
        assertThat(awaitEvent("src", VmEvent.Kind.CLONED).subject()).contains("copy-1");
        assertThat(manager.get("src").status()).as("the source stays as it was").isEqualTo(VmStatus.STOPPED);

        manager.start("src");
        manager.stop("src", Duration.ZERO);
        manager.delete("src"); // a full clone needs no source
        manager.start("copy-1");
        assertThat(manager.get("copy-1").status()).isEqualTo(VmStatus.RUNNING);

        manager.create(spec("golden"));
        manager.makeTemplate("golden");
        io.horcrux.Cancellation cancellation = io.horcrux.Cancellation.create();
        cancellation.cancel();
        assertThatThrownBy(() -> manager.clone("golden", "copy-2", null, io.horcrux.model.CloneMode.FULL,
                io.horcrux.ProgressListener.NONE, cancellation)).isInstanceOf(io.horcrux.OperationCancelledException.class);
        io.horcrux.Cancellation during = io.horcrux.Cancellation.create();
        assertThatThrownBy(() -> manager.clone("golden", "copy-2", null, io.horcrux.model.CloneMode.FULL,
                p -> during.cancel(), during)).isInstanceOf(io.horcrux.OperationCancelledException.class);
        assertThat(manager.find("copy-2")).isEmpty();
        assertThat(driver.provisionedIds()).doesNotContain("copy-2");
        manager.delete("golden"); // a full clone, even cancelled, is no link
        assertThatThrownBy(() -> manager.clone("copy-1", "copy-3", io.horcrux.model.CloneMode.LINKED))
                .as("a clone is no template").isInstanceOf(IllegalVmStateException.class);
    }

    @Test
    void aTemplateWhoseDiskWasCopiedFromAnImageSinceRemovedIsClonedBothWays() throws Exception {
        java.nio.file.Path golden = randomImage("golden.img", 2 << 20);
        manager.create(VmSpec.builder().id("from-copy").memoryMiB(64).disk(DiskSpec.copyOf("root", golden)).build());
        java.nio.file.Files.delete(golden); // read once, when the copy was made
        manager.makeTemplate("from-copy");
        manager.clone("from-copy", "linked", io.horcrux.model.CloneMode.LINKED);
        manager.clone("from-copy", "full", io.horcrux.model.CloneMode.FULL);
        manager.start("linked");
        manager.start("full");
        assertThat(manager.get("linked").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(manager.get("full").status()).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void badClonesAreRefusedClearlyAndLeaveNoRowAndNoDisk() {
        manager.create(spec("plain"));
        manager.create(spec("taken"));
        manager.create(spec("busy"));
        manager.start("busy");
        manager.create(spec("golden"));
        manager.makeTemplate("golden");
        java.util.Set<String> provisionedBefore = driver.provisionedIds();
        long countBefore = manager.count(VmQuery.all());

        assertThatThrownBy(() -> manager.clone("golden", "taken", io.horcrux.model.CloneMode.LINKED))
                .isInstanceOf(VmAlreadyExistsException.class).hasMessageContaining("taken");
        assertThatThrownBy(() -> manager.clone("golden", "golden", io.horcrux.model.CloneMode.FULL))
                .isInstanceOf(VmAlreadyExistsException.class);
        assertThatThrownBy(() -> manager.clone("plain", "linked-1", io.horcrux.model.CloneMode.LINKED))
                .isInstanceOf(IllegalVmStateException.class).hasMessageContaining("only of templates");
        assertThatThrownBy(() -> manager.clone("busy", "full-1", io.horcrux.model.CloneMode.FULL))
                .isInstanceOf(IllegalVmStateException.class).hasMessageContaining("RUNNING")
                .hasMessageContaining("STOPPED");
        assertThatThrownBy(() -> manager.clone("nobody", "full-2", io.horcrux.model.CloneMode.FULL))
                .isInstanceOf(VmNotFoundException.class);
        for (String hostile : List.of("", "../etc", "a;rm -rf /", "-flag", "UPPER", "with space", "line\nbreak",
                "x".repeat(64), "id=1,file=/etc/passwd")) {
            assertThatThrownBy(() -> manager.clone("golden", hostile, io.horcrux.model.CloneMode.LINKED))
                    .as("id '%s'", hostile).isInstanceOf(InvalidVmSpecException.class).hasMessageContaining("id");
        }
        assertThatThrownBy(() -> manager.clone("golden", "named", "bad\u0007name", io.horcrux.model.CloneMode.LINKED,
                io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create()))
                .isInstanceOf(InvalidVmSpecException.class).hasMessageContaining("name");
        assertThatThrownBy(() -> manager.clone("golden", null, io.horcrux.model.CloneMode.LINKED))
                .isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> manager.clone("golden", "x", null)).isInstanceOf(NullPointerException.class);

        assertThat(manager.count(VmQuery.all())).as("no row").isEqualTo(countBefore);
        assertThat(driver.provisionedIds()).as("no disk").isEqualTo(provisionedBefore);
        assertThat(manager.get("golden").status()).isEqualTo(VmStatus.TEMPLATE);
        assertThat(manager.get("plain").version()).isEqualTo(1);
    }

    @Test
    void clonesAndTemplatesAreTimed() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        manager.close();
        manager = VmManager.builder().store(newStore()).driver(newDriver()).meterRegistry(registry).build();
        manager.create(spec("golden"));
        manager.makeTemplate("golden");
        manager.clone("golden", "web-1", io.horcrux.model.CloneMode.LINKED);
        assertThatThrownBy(() -> manager.clone("golden", "web-1", io.horcrux.model.CloneMode.FULL))
                .isInstanceOf(VmAlreadyExistsException.class);
        assertThat(registry.get("horcrux.vm.operation").tags("operation", "makeTemplate", "outcome", "success").timer()
                .count()).isEqualTo(1);
        assertThat(registry.get("horcrux.vm.operation").tags("operation", "clone", "outcome", "success").timer().count())
                .isEqualTo(1);
        assertThat(registry.get("horcrux.vm.operation").tags("operation", "clone", "outcome", "VmAlreadyExistsException")
                .timer().count()).isEqualTo(1);
    }
}
