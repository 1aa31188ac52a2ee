package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.horcrux.DriverException;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link VmDriver} must have. An implementation's test extends this class;
 * the simulated driver and the QEMU driver (against real processes) both pass it.
 */
public abstract class VmDriverContract {

    /** A notice the driver gave its observer. */
    protected record Notice(String vmId, VmStatus status, String reason) {
    }

    protected VmDriver driver;
    protected final BlockingQueue<Notice> notices = new LinkedBlockingQueue<>();
    private final List<VmSpec> provisioned = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** A fresh driver; the contract closes it after each test. */
    protected abstract VmDriver newDriver();

    /** Kills the VM's process behind the driver's back, as {@code kill -9} would. */
    protected abstract void killBehindTheBack(String vmId);

    /** The VM the contract runs; override for a shape that suits the hypervisor. */
    protected VmSpec spec(String id) {
        return VmSpec.builder().id(id).memoryMiB(64).cpus(1).disk(DiskSpec.qcow2("root", 64L << 20)).build();
    }

    /** How long to wait for a notice from the driver. */
    protected Duration noticeTimeout() {
        return Duration.ofSeconds(30);
    }

    @BeforeEach
    void openDriver() {
        driver = newDriver();
        driver.setObserver((id, status, reason) -> notices.add(new Notice(id, status, reason)));
    }

    @AfterEach
    void closeDriver() {
        try {
            for (VmSpec spec : provisioned) {
                if (driver.status(spec.id()).isActive()) {
                    driver.stop(spec.id(), Duration.ZERO);
                }
                driver.deprovision(spec);
            }
        } finally {
            driver.close();
        }
    }

    /** Provisions a VM that the contract cleans up after the test. */
    protected VmSpec provisioned(String id) {
        VmSpec spec = spec(id);
        driver.provision(spec);
        provisioned.add(spec);
        return spec;
    }

    protected Notice awaitNotice(String vmId) throws InterruptedException {
        long deadline = System.nanoTime() + noticeTimeout().toNanos();
        while (true) {
            Notice n = notices.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(n).as("a notice for VM " + vmId + " within " + noticeTimeout()).isNotNull();
            if (n.vmId().equals(vmId) && !n.status().isActive()) {
                return n;
            }
        }
    }

    @Test
    void hasAName() {
        assertThat(driver.name()).isNotBlank();
    }

    @Test
    void unknownVmIsStopped() {
        assertThat(driver.status("never-seen")).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void provisionedVmIsStoppedUntilStarted() {
        VmSpec spec = provisioned("contract-a");
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void provisioningTheSameVmTwiceFails() {
        VmSpec spec = provisioned("contract-twice");
        assertThatThrownBy(() -> driver.provision(spec)).isInstanceOf(DriverException.class)
                .hasMessageContaining("contract-twice");
    }

    @Test
    void provisionedIdsFollowProvisionAndDeprovision() {
        VmSpec kept = provisioned("contract-kept");
        VmSpec gone = spec("contract-gone");
        driver.provision(gone);
        assertThat(driver.provisionedIds()).contains(kept.id(), gone.id());
        driver.deprovision(gone);
        assertThat(driver.provisionedIds()).contains(kept.id()).doesNotContain(gone.id());
        assertThat(driver.isProvisioned(kept.id())).isTrue();
        assertThat(driver.isProvisioned(gone.id())).as("answers as provisionedIds do").isFalse();
        assertThat(driver.isProvisioned("contract-never")).isFalse();
    }

    @Test
    void removeOrphanRemovesWhatProvisionMadeAndIsIdempotent() {
        VmSpec orphan = spec("contract-orphan");
        driver.provision(orphan);
        driver.removeOrphan(orphan.id());
        assertThat(driver.provisionedIds()).doesNotContain(orphan.id());
        driver.removeOrphan(orphan.id());
        driver.removeOrphan("contract-never-provisioned");
        driver.provision(orphan); // nothing of the first one is in the way
        driver.deprovision(orphan);
    }

    @Test
    void removeOrphanRefusesARunningVmAndIdsThatAreNotIds() {
        VmSpec spec = provisioned("contract-running");
        driver.start(spec);
        assertThatThrownBy(() -> driver.removeOrphan(spec.id())).isInstanceOf(DriverException.class)
                .hasMessageContaining("contract-running");
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
        for (String bad : new String[] {"", "..", "../contract-running", "a/b", "UPPER", "x\n", "-lead"}) {
            assertThatThrownBy(() -> driver.removeOrphan(bad)).as("removeOrphan(%s)", bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("id must match");
        }
        assertThatThrownBy(() -> driver.removeOrphan(null)).isInstanceOf(IllegalArgumentException.class);
        assertThat(driver.provisionedIds()).contains(spec.id());
    }

    @Test
    void startRunsTheVmAndForcedStopEndsIt() {
        VmSpec spec = provisioned("contract-b");
        VmRuntime runtime = driver.start(spec);

        assertThat(runtime).isNotNull();
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);

        driver.stop(spec.id(), Duration.ZERO);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void pauseResumeAndResetFollowTheVm() {
        VmSpec spec = provisioned("contract-c");
        driver.start(spec);

        driver.pause(spec.id());
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.PAUSED);
        driver.resume(spec.id());
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
        driver.reset(spec.id());
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void aStoppedVmCanStartAgain() {
        VmSpec spec = provisioned("contract-d");
        driver.start(spec);
        driver.stop(spec.id(), Duration.ZERO);
        driver.start(spec);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void gracefulStopEndsTheVmWithinItsGraceOrByForce() {
        VmSpec spec = provisioned("contract-e");
        driver.start(spec);
        driver.stop(spec.id(), Duration.ofMillis(500));
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void startingARunningVmFails() {
        VmSpec spec = provisioned("contract-f");
        driver.start(spec);
        assertThatThrownBy(() -> driver.start(spec)).isInstanceOf(DriverException.class);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void startingAnUnprovisionedVmFailsAndLeavesNothingRunning() {
        VmSpec spec = spec("contract-unprovisioned");
        assertThatThrownBy(() -> driver.start(spec)).isInstanceOf(DriverException.class);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void deprovisionRefusesARunningVmAndIsIdempotentOtherwise() {
        VmSpec spec = provisioned("contract-g");
        driver.start(spec);
        assertThatThrownBy(() -> driver.deprovision(spec)).isInstanceOf(DriverException.class);
        driver.stop(spec.id(), Duration.ZERO);
        driver.deprovision(spec);
        driver.deprovision(spec);
        driver.provision(spec);
    }

    @Test
    void aProcessKilledBehindTheDriversBackIsNoticed() throws InterruptedException {
        VmSpec spec = provisioned("contract-h");
        driver.start(spec);
        notices.clear();

        killBehindTheBack(spec.id());

        Notice notice = awaitNotice(spec.id());
        assertThat(notice.status()).isEqualTo(VmStatus.CRASHED);
        assertThat(notice.reason()).isNotBlank();
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.CRASHED);
        driver.start(spec);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
    }

    /** Provisions a VM of this spec that the contract cleans up after the test. */
    protected VmSpec provisioned(VmSpec spec) {
        driver.provision(spec);
        provisioned.add(spec);
        return spec;
    }

    /** A TCP port of 127.0.0.1 that nothing listens on now (the kernel's choice, released at once). */
    protected static int freeLoopbackPort() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aStartedVmReportsEveryForwardWithTheHostPortItBound() {
        int fixed = freeLoopbackPort();
        VmSpec spec = provisioned(spec("contract-fwd").toBuilder()
                .nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 22), PortForward.tcp(fixed, 80),
                        PortForward.udp(0, 53)))
                .build());

        VmRuntime runtime = driver.start(spec);

        assertThat(runtime.forwards()).hasSize(3);
        assertThat(runtime.forwards()).extracting(PortForward::protocol, PortForward::hostAddress, PortForward::guestPort)
                .containsExactly(tuple(PortForward.Protocol.TCP, "127.0.0.1", 22),
                        tuple(PortForward.Protocol.TCP, "127.0.0.1", 80), tuple(PortForward.Protocol.UDP, "127.0.0.1", 53));
        assertThat(runtime.forwards().get(1).hostPort()).isEqualTo(fixed);
        assertThat(runtime.forwards().get(0).hostPort()).isBetween(1, 65535).isNotEqualTo(fixed);
        assertThat(runtime.forwards().get(2).hostPort()).isBetween(1, 65535);
        assertThat(driver.runtime(spec.id())).map(VmRuntime::forwards).contains(runtime.forwards());
        driver.stop(spec.id(), Duration.ZERO);
        assertThat(driver.runtime(spec.id())).isEmpty();
    }

    @Test
    void aSecondVmAskingForAFixedHostPortInUseFailsNamingItAndLeavesNothingRunning() {
        int fixed = freeLoopbackPort();
        VmSpec first = provisioned(spec("contract-port-a").toBuilder()
                .nic(NicSpec.user("eth0").forward(PortForward.tcp(fixed, 22))).build());
        VmSpec second = provisioned(spec("contract-port-b").toBuilder()
                .nic(NicSpec.user("eth0").forward(PortForward.tcp(fixed, 22))).build());
        driver.start(first);

        assertThatThrownBy(() -> driver.start(second)).isInstanceOf(DriverException.class)
                .hasMessageContaining(String.valueOf(fixed));
        assertThat(driver.status(second.id())).isEqualTo(VmStatus.STOPPED);
        assertThat(driver.runtime(second.id())).isEmpty();
        assertThat(driver.status(first.id())).isEqualTo(VmStatus.RUNNING);

        driver.stop(first.id(), Duration.ZERO);
        assertThat(driver.start(second).forwards()).extracting(PortForward::hostPort).containsExactly(fixed);
    }

    @Test
    void attachToAVmThatIsNotRunningSaysStopped() {
        VmSpec spec = provisioned("contract-i");
        Vm vm = new Vm(spec, VmStatus.RUNNING, 3, Instant.EPOCH, Instant.EPOCH, "", new VmRuntime(0, ""));
        assertThat(driver.attach(vm)).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void closeIsIdempotent() {
        driver.close();
        driver.close();
        driver = newDriver();
    }

    /**
     * Builds a second driver on the state {@link #driver} uses (the same state directory), for
     * the check that a driver does not share its state: the supplier is called while
     * {@link #driver} is open, where it must throw a {@link DriverException} whose message says
     * the state is "in use", and after it closed, where it must build. Empty, the default, for a driver whose state no other driver
     * can reach (one in memory).
     */
    protected java.util.Optional<java.util.function.Supplier<VmDriver>> secondDriverOnTheSameState() {
        return java.util.Optional.empty();
    }

    @Test
    void aSecondDriverOnTheSameStateIsRefusedUntilTheFirstCloses() {
        java.util.Optional<java.util.function.Supplier<VmDriver>> second = secondDriverOnTheSameState();
        if (second.isEmpty()) {
            return; // nothing another driver could share
        }
        VmSpec spec = provisioned("contract-exclusive");
        assertThatThrownBy(() -> second.get().get().close()).isInstanceOf(DriverException.class)
                .hasMessageContaining("in use"); // refused for the claim, not for another reason
        assertThat(driver.provisionedIds()).contains(spec.id());
        driver.close();
        driver = second.get().get(); // closed after the test, which also deprovisions the VM
        assertThat(driver.provisionedIds()).contains(spec.id());
    }

    @Test
    void aRunningVmHasALiveConsoleAndAStoppedOneKeepsItsOutputButTakesNoInput() throws Exception {
        VmSpec spec = provisioned("contract-console");
        java.util.Optional<io.horcrux.spi.GuestConsole> console = driver.console(spec.id());
        if (console.isEmpty()) {
            return; // a driver without consoles: nothing to check
        }
        assertThat(console.get().isLive()).as("before the first start").isFalse();
        driver.start(spec);
        io.horcrux.spi.GuestConsole live = driver.console(spec.id()).orElseThrow();
        assertThat(live.isLive()).isTrue();
        driver.stop(spec.id(), Duration.ZERO);
        io.horcrux.spi.GuestConsole last = driver.console(spec.id()).orElseThrow();
        assertThat(last.isLive()).isFalse();
        assertThatThrownBy(() -> last.write("echo hello\n")).isInstanceOf(DriverException.class);
        long started = System.nanoTime();
        assertThat(last.await(java.util.regex.Pattern.compile("never printed"), Duration.ofSeconds(60))).isEmpty();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("an await on a stopped VM ends at once")
                .isLessThan(Duration.ofSeconds(10));
        assertThat(driver.console("contract-never-provisioned")).isEmpty();
    }

    // ---------------------------------------------------------------- disks from images

    /** Where the image tests keep their source images; outside the driver's state. */
    @org.junit.jupiter.api.io.TempDir
    protected java.nio.file.Path images;

    /** A raw image of {@code bytes} random bytes: any file is a raw image. */
    protected java.nio.file.Path rawImage(String name, int bytes) throws java.io.IOException {
        byte[] content = new byte[bytes];
        new java.util.Random(name.hashCode()).nextBytes(content);
        return java.nio.file.Files.write(images.resolve(name), content);
    }

    protected static String sha256(java.nio.file.Path file) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(java.nio.file.Files.readAllBytes(file)));
    }

    /** The contract's spec with {@code disk} added after its own disks; the field of the new disk is {@code disks[n]}. */
    protected VmSpec specWith(String id, DiskSpec... disks) {
        VmSpec.Builder b = spec(id).toBuilder();
        for (DiskSpec disk : disks) {
            b.disk(disk);
        }
        return b.build();
    }

    @Test
    void disksFromImagesAreProvisionedStartedAndRemovedWithoutTheirSourcesEverBeingWritten() throws Exception {
        java.nio.file.Path base = rawImage("base.img", 2 << 20);
        java.nio.file.Path iso = rawImage("media.iso", 1 << 20);
        String baseHash = sha256(base);
        String isoHash = sha256(iso);
        VmSpec spec = specWith("contract-images", DiskSpec.overlay("layer", base), DiskSpec.copyOf("copy", base),
                DiskSpec.cdrom("media", iso));
        List<io.horcrux.model.Progress> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        driver.check(spec);
        driver.provision(spec, events::add, io.horcrux.Cancellation.create());
        provisioned.add(spec);

        assertThat(events).as("the copy's progress").isNotEmpty()
                .allSatisfy(e -> assertThat(e).extracting(io.horcrux.model.Progress::vmId, io.horcrux.model.Progress::task,
                        io.horcrux.model.Progress::disk).containsExactly(spec.id(), io.horcrux.model.Progress.COPY, "copy"));
        assertThat(events.get(events.size() - 1).percent()).isEqualTo(100.0);
        for (int i = 1; i < events.size(); i++) {
            assertThat(events.get(i).percent()).as("progress never goes back").isGreaterThanOrEqualTo(events.get(i - 1).percent());
        }
        driver.start(spec);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
        driver.stop(spec.id(), Duration.ZERO);
        driver.deprovision(spec);
        assertThat(driver.provisionedIds()).doesNotContain(spec.id());
        assertThat(sha256(base)).as("the base and the copy's source, never written").isEqualTo(baseHash);
        assertThat(sha256(iso)).as("the ISO, never written").isEqualTo(isoHash);
    }

    @Test
    void aCancelledCopyThrowsAndLeavesNothingProvisioned() throws Exception {
        java.nio.file.Path source = rawImage("golden.img", 4 << 20);
        VmSpec spec = specWith("contract-cancel", DiskSpec.copyOf("copy", source));

        io.horcrux.Cancellation before = io.horcrux.Cancellation.create();
        before.cancel();
        assertThatThrownBy(() -> driver.provision(spec, io.horcrux.ProgressListener.NONE, before))
                .isInstanceOf(io.horcrux.OperationCancelledException.class);
        assertThat(driver.provisionedIds()).doesNotContain(spec.id());

        io.horcrux.Cancellation during = io.horcrux.Cancellation.create();
        assertThatThrownBy(() -> driver.provision(spec, progress -> during.cancel(), during))
                .as("cancelled at its first progress event").isInstanceOf(io.horcrux.OperationCancelledException.class);
        assertThat(driver.provisionedIds()).doesNotContain(spec.id());

        driver.provision(spec); // nothing of the cancelled ones is in the way
        provisioned.add(spec);
        assertThat(driver.provisionedIds()).contains(spec.id());
    }

    @Test
    void sourceImagesTheHostCannotGiveAreRefusedBeforeAnythingIsWrittenNamingEachField() throws Exception {
        java.nio.file.Path missing = images.resolve("missing.img");
        java.nio.file.Path directory = java.nio.file.Files.createDirectory(images.resolve("a-directory"));
        java.nio.file.Path device = java.nio.file.Path.of("/dev/null");
        java.nio.file.Path unreadable = rawImage("unreadable.img", 1 << 20);
        java.nio.file.Files.setPosixFilePermissions(unreadable, java.util.Set.of());
        java.nio.file.Path empty = java.nio.file.Files.createFile(images.resolve("empty.img"));
        byte[] corrupt = new byte[1 << 16];
        System.arraycopy(new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 9}, 0, corrupt, 0, 8);
        java.nio.file.Path notAnImage = java.nio.file.Files.write(images.resolve("corrupt.qcow2"), corrupt);
        int first = spec("contract-bad").disks().size();
        java.util.Map<String, DiskSpec> cases = new java.util.LinkedHashMap<>();
        cases.put("missing", DiskSpec.overlay("bad", missing));
        cases.put("directory", DiskSpec.copyOf("bad", directory));
        cases.put("device", DiskSpec.cdrom("bad", device));
        cases.put("unreadable", DiskSpec.overlay("bad", unreadable));
        cases.put("empty", DiskSpec.copyOf("bad", empty));
        cases.put("not an image", DiskSpec.overlay("bad", notAnImage));
        for (var c : cases.entrySet()) {
            VmSpec spec = specWith("contract-bad", c.getValue());
            assertThatThrownBy(() -> driver.check(spec)).as(c.getKey()).isInstanceOf(DriverException.class)
                    .hasMessageContaining("disks[" + first + "].source").hasMessageContaining(c.getValue().source());
            assertThatThrownBy(() -> driver.provision(spec, io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create()))
                    .as(c.getKey()).isInstanceOf(DriverException.class);
            assertThat(driver.provisionedIds()).as(c.getKey()).doesNotContain(spec.id());
        }
        VmSpec two = specWith("contract-bad", DiskSpec.overlay("one", missing), DiskSpec.cdrom("two", directory));
        assertThatThrownBy(() -> driver.check(two)).as("every problem listed").isInstanceOf(DriverException.class)
                .hasMessageContaining("disks[" + first + "].source").hasMessageContaining("disks[" + (first + 1) + "].source");
    }

    /**
     * Whether the driver has live stats ({@link VmDriver#stats}); true unless overridden. A
     * driver without them must refuse every call with a {@link DriverException}, as the
     * default does.
     */
    protected boolean hasStats() {
        return true;
    }

    @Test
    void aRunningVmHasStatsWhoseUptimeGrowsAndAStoppedOneHasNone() throws Exception {
        VmSpec spec = provisioned("contract-stats");
        assertThatThrownBy(() -> driver.stats(spec.id())).as("before the first start").isInstanceOf(DriverException.class);
        if (!hasStats()) {
            driver.start(spec);
            assertThatThrownBy(() -> driver.stats(spec.id())).isInstanceOf(DriverException.class);
            return;
        }
        driver.start(spec);
        VmStats first = driver.stats(spec.id());
        assertThat(first.cpuTime()).as("vCPU time within what its vCPUs could use")
                .isLessThanOrEqualTo(first.uptime().multipliedBy(spec.cpus()).plusSeconds(1));
        assertThat(first.disks()).containsOnlyKeys(spec.disks().stream().map(DiskSpec::name).toList());
        Thread.sleep(120);
        VmStats later = driver.stats(spec.id());
        assertThat(later.uptime()).as("uptime grows").isGreaterThan(first.uptime());
        assertThat(later.cpuTime()).as("vCPU time never goes back").isGreaterThanOrEqualTo(first.cpuTime());
        driver.pause(spec.id());
        assertThat(driver.stats(spec.id()).uptime()).as("a paused VM has stats").isGreaterThanOrEqualTo(later.uptime());
        driver.stop(spec.id(), Duration.ZERO);
        assertThatThrownBy(() -> driver.stats(spec.id())).as("after the stop").isInstanceOf(DriverException.class)
                .hasMessageContaining(spec.id());
        assertThatThrownBy(() -> driver.stats("contract-never-provisioned")).isInstanceOf(DriverException.class);
    }

    // ---------------------------------------------------------------- snapshots

    /** The VM as the manager would pass it: the spec in the given status. */
    private static io.horcrux.model.Vm asStored(VmSpec spec, VmStatus status) {
        java.time.Instant now = java.time.Instant.now();
        return new io.horcrux.model.Vm(spec, status, 1, now, now, "", null);
    }

    private static io.horcrux.model.Snapshot snapshotOf(String name, boolean withMemory, VmStatus takenWhile) {
        return new io.horcrux.model.Snapshot(name, java.util.Optional.empty(), java.time.Instant.now(), withMemory, true,
                takenWhile);
    }

    @Test
    void aDriverWithoutSnapshotsRefusesThemClearly() {
        if (driver.supportsSnapshots()) {
            return;
        }
        VmSpec spec = provisioned("contract-nosnap");
        io.horcrux.model.Vm vm = asStored(spec, VmStatus.STOPPED);
        assertThatThrownBy(() -> driver.snapshot(vm, "s1", false)).isInstanceOf(DriverException.class)
                .hasMessageContaining("snapshots");
        assertThatThrownBy(() -> driver.revert(vm, snapshotOf("s1", false, VmStatus.STOPPED)))
                .isInstanceOf(DriverException.class);
        assertThatThrownBy(() -> driver.deleteSnapshot(vm, "s1")).isInstanceOf(DriverException.class);
        assertThatThrownBy(() -> driver.snapshotNames(vm)).isInstanceOf(DriverException.class);
    }

    /** Asserts that every snapshot disk of the VM holds exactly {@code names}. */
    private void holds(io.horcrux.model.Vm vm, String... names) {
        java.util.Map<String, java.util.Set<String>> held = driver.snapshotNames(vm);
        assertThat(held.keySet()).as("the snapshot disks of %s", vm.id()).containsExactlyElementsOf(
                vm.spec().disks().stream().filter(d -> !d.readOnly() && d.kind() != io.horcrux.model.DiskKind.CDROM)
                        .map(io.horcrux.model.DiskSpec::name).toList());
        assertThat(held.values()).as("what the disks of %s hold", vm.id())
                .allSatisfy(n -> assertThat(n).containsExactlyInAnyOrder(names));
    }

    @Test
    void snapshotsOfAStoppedVmAreTakenRevertedToAndDeleted() {
        if (!driver.supportsSnapshots()) {
            return;
        }
        VmSpec spec = provisioned("contract-snap-off");
        io.horcrux.model.Vm stopped = asStored(spec, VmStatus.STOPPED);
        holds(stopped);
        driver.snapshot(stopped, "first", false);
        holds(stopped, "first");
        driver.snapshot(stopped, "second", false);
        assertThat(driver.revert(stopped, snapshotOf("first", false, VmStatus.STOPPED))).isEqualTo(VmStatus.STOPPED);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.STOPPED);
        holds(stopped, "first", "second");
        driver.deleteSnapshot(stopped, "first");
        driver.deleteSnapshot(stopped, "first");
        holds(stopped, "second");
        assertThatThrownBy(() -> driver.revert(stopped, snapshotOf("first", false, VmStatus.STOPPED)))
                .as("a deleted snapshot is gone from the disks").isInstanceOf(DriverException.class)
                .hasMessageContaining("first");
        driver.start(spec);
        assertThat(driver.status(spec.id())).as("the VM still starts").isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void snapshotsWithMemoryRevertToTheStatusTheyWereTakenIn() {
        if (!driver.supportsSnapshots()) {
            return;
        }
        VmSpec spec = provisioned("contract-snap-mem");
        driver.start(spec);
        driver.snapshot(asStored(spec, VmStatus.RUNNING), "running", true);
        driver.pause(spec.id());
        driver.snapshot(asStored(spec, VmStatus.PAUSED), "paused", true);
        driver.resume(spec.id());

        assertThat(driver.revert(asStored(spec, VmStatus.RUNNING), snapshotOf("paused", true, VmStatus.PAUSED)))
                .isEqualTo(VmStatus.PAUSED);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.PAUSED);
        assertThat(driver.revert(asStored(spec, VmStatus.PAUSED), snapshotOf("running", true, VmStatus.RUNNING)))
                .isEqualTo(VmStatus.RUNNING);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);

        driver.snapshot(asStored(spec, VmStatus.RUNNING), "disks-only", false);
        holds(asStored(spec, VmStatus.RUNNING), "running", "paused", "disks-only");
        driver.deleteSnapshot(asStored(spec, VmStatus.RUNNING), "paused");
        holds(asStored(spec, VmStatus.RUNNING), "running", "disks-only");
        driver.stop(spec.id(), Duration.ZERO);
        assertThat(driver.revert(asStored(spec, VmStatus.STOPPED), snapshotOf("disks-only", false, VmStatus.RUNNING)))
                .isEqualTo(VmStatus.STOPPED);
        holds(asStored(spec, VmStatus.STOPPED), "running", "disks-only");
        assertThat(driver.revert(asStored(spec, VmStatus.STOPPED), snapshotOf("running", false, VmStatus.STOPPED)))
                .as("a snapshot with memory passed without it: its disks only, the VM stopped").isEqualTo(VmStatus.STOPPED);
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.STOPPED);
        driver.deleteSnapshot(asStored(spec, VmStatus.STOPPED), "running");
        driver.deleteSnapshot(asStored(spec, VmStatus.STOPPED), "disks-only");
        holds(asStored(spec, VmStatus.STOPPED));
    }

    // ---------------------------------------------------------------- templates and clones

    /** The spec of a clone of {@code source}: the same disks, another id, MACs generated anew. */
    protected static VmSpec cloneOf(VmSpec source, String id) {
        VmSpec.Builder b = VmSpec.builder().id(id).memoryMiB(source.memoryMiB()).cpus(source.cpus()).boot(source.boot());
        source.disks().forEach(b::disk);
        source.nics().forEach(n -> b.nic(new NicSpec(n.name(), null, n.mode(), n.tapDevice(), n.forwards())));
        return b.build();
    }

    @Test
    void aDriverWithoutClonesRefusesThemClearly() {
        if (driver.supportsClones()) {
            return;
        }
        VmSpec spec = provisioned("contract-noclone");
        assertThatThrownBy(() -> driver.makeTemplate(asStored(spec, VmStatus.STOPPED))).isInstanceOf(DriverException.class)
                .hasMessageContaining("template");
        VmSpec clone = cloneOf(spec, "contract-noclone-2");
        assertThatThrownBy(() -> driver.provisionClone(asStored(spec, VmStatus.STOPPED), clone,
                io.horcrux.model.CloneMode.FULL, io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create()))
                .isInstanceOf(DriverException.class).hasMessageContaining("clones");
        assertThat(driver.isProvisioned(clone.id())).isFalse();
    }

    @Test
    void aTemplateNeverStartsAndItsLinkedClonesStartAndGoWithoutIt() {
        if (!driver.supportsClones()) {
            return;
        }
        VmSpec spec = provisioned("contract-tpl");
        Vm template = asStored(spec, VmStatus.TEMPLATE);
        driver.makeTemplate(template);
        driver.makeTemplate(template); // idempotent
        assertThatThrownBy(() -> driver.start(spec)).as("a template never starts").isInstanceOf(DriverException.class)
                .hasMessageContaining("template");
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.STOPPED);

        VmSpec clone = cloneOf(spec, "contract-tpl-linked");
        driver.check(clone);
        driver.provisionClone(template, clone, io.horcrux.model.CloneMode.LINKED, io.horcrux.ProgressListener.NONE,
                io.horcrux.Cancellation.create());
        provisioned.add(clone);
        assertThat(driver.provisionedIds()).contains(clone.id(), spec.id());
        driver.start(clone);
        assertThat(driver.status(clone.id())).isEqualTo(VmStatus.RUNNING);
        driver.stop(clone.id(), Duration.ZERO);
        driver.deprovision(clone);
        assertThat(driver.provisionedIds()).as("the template stays when its clone goes").contains(spec.id())
                .doesNotContain(clone.id());

        VmSpec again = cloneOf(spec, "contract-tpl-full");
        driver.provisionClone(template, again, io.horcrux.model.CloneMode.FULL, io.horcrux.ProgressListener.NONE,
                io.horcrux.Cancellation.create());
        provisioned.add(again);
        driver.start(again);
        assertThat(driver.status(again.id())).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void aLinkedCloneOfAVmThatIsNotATemplateIsRefusedAndLeavesNothing() {
        if (!driver.supportsClones()) {
            return;
        }
        VmSpec spec = provisioned("contract-plain");
        VmSpec clone = cloneOf(spec, "contract-plain-linked");
        assertThatThrownBy(() -> driver.provisionClone(asStored(spec, VmStatus.STOPPED), clone,
                io.horcrux.model.CloneMode.LINKED, io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create()))
                .isInstanceOf(DriverException.class).hasMessageContaining("not a template");
        assertThat(driver.isProvisioned(clone.id())).isFalse();
        driver.start(spec);
        assertThatThrownBy(() -> driver.provisionClone(asStored(spec, VmStatus.RUNNING), clone,
                io.horcrux.model.CloneMode.FULL, io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create()))
                .as("a running VM's disks change meanwhile").isInstanceOf(DriverException.class)
                .hasMessageContaining("running");
        assertThat(driver.isProvisioned(clone.id())).isFalse();
    }

    @Test
    void aFullCloneReportsItsProgressAndCancelledLeavesNothing() {
        if (!driver.supportsClones()) {
            return;
        }
        VmSpec spec = provisioned("contract-src");
        Vm source = asStored(spec, VmStatus.STOPPED);
        VmSpec clone = cloneOf(spec, "contract-src-full");

        io.horcrux.Cancellation before = io.horcrux.Cancellation.create();
        before.cancel();
        assertThatThrownBy(() -> driver.provisionClone(source, clone, io.horcrux.model.CloneMode.FULL,
                io.horcrux.ProgressListener.NONE, before)).isInstanceOf(io.horcrux.OperationCancelledException.class);
        assertThat(driver.provisionedIds()).doesNotContain(clone.id());

        io.horcrux.Cancellation during = io.horcrux.Cancellation.create();
        assertThatThrownBy(() -> driver.provisionClone(source, clone, io.horcrux.model.CloneMode.FULL,
                progress -> during.cancel(), during)).as("cancelled at its first progress event")
                .isInstanceOf(io.horcrux.OperationCancelledException.class);
        assertThat(driver.provisionedIds()).doesNotContain(clone.id());

        List<io.horcrux.model.Progress> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        driver.provisionClone(source, clone, io.horcrux.model.CloneMode.FULL, events::add, io.horcrux.Cancellation.create());
        provisioned.add(clone);
        assertThat(events).as("the copy's progress").isNotEmpty()
                .allSatisfy(e -> assertThat(e).extracting(io.horcrux.model.Progress::vmId, io.horcrux.model.Progress::task,
                        io.horcrux.model.Progress::disk).containsExactly(clone.id(), io.horcrux.model.Progress.COPY, "root"));
        assertThat(events.get(events.size() - 1).percent()).isEqualTo(100.0);
        for (int i = 1; i < events.size(); i++) {
            assertThat(events.get(i).percent()).as("progress never goes back").isGreaterThanOrEqualTo(events.get(i - 1).percent());
        }
        assertThat(driver.provisionedIds()).contains(clone.id(), spec.id());
        driver.start(spec);
        assertThat(driver.status(spec.id())).as("the source still starts").isEqualTo(VmStatus.RUNNING);
    }
}
