package io.horcrux.qemu;

import io.horcrux.internal.HostProcess;
import static io.horcrux.qemu.QemuItSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.model.Architecture;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Real QEMU processes (TCG, microvm): lifecycle, escalation, supervision, reattach, permissions, bad input. */
class QemuLifecycleIT {
    private static final Duration NOTICE = Duration.ofSeconds(30);
    private static Path root;
    private static int stateCounter;

    private record Notice(String id, VmStatus status, String reason) {
    }

    private Path state;
    private QemuDriver driver;
    private final BlockingQueue<Notice> notices = new LinkedBlockingQueue<>();
    private final List<QemuDriver> drivers = new ArrayList<>();

    @BeforeAll
    static void createRoot() throws Exception {
        root = QemuItSupport.newStateDirectory("lifecycle");
    }

    @AfterAll
    static void noQemuLeft() throws InterruptedException {
        QemuItSupport.assertNoQemuLeftUnder(root);
        // Every driver was closed: no QMP reader or supervision thread may outlive it.
        QmpClientTest.assertNoReaderThreadLeft();
        await("supervision threads to end", Duration.ofSeconds(10), () -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("horcrux-qemu-watch")));
    }

    @BeforeEach
    void openDriver() throws Exception {
        state = Files.createDirectory(root.resolve("t" + stateCounter++), QemuItSupport.OWNER_ONLY);
        driver = open(state);
    }

    /** A driver whose VMs have an operator monitor, the "other client" of the supervision tests. */
    private QemuDriver open(Path stateDirectory) {
        QemuDriver d = QemuItSupport.driverBuilder(stateDirectory).operatorMonitor(true).build();
        d.setObserver((id, status, reason) -> notices.add(new Notice(id, status, reason)));
        drivers.add(d);
        return d;
    }

    @AfterEach
    void stopEverything() {
        for (long pid : QemuItSupport.qemuProcessesUnder(state)) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        drivers.forEach(QemuDriver::close);
    }

    private Notice awaitNotice(String id, VmStatus status) throws InterruptedException {
        long deadline = System.nanoTime() + NOTICE.toNanos();
        while (true) {
            Notice n = notices.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(n).as("a " + status + " notice for " + id).isNotNull();
            if (n.id().equals(id) && n.status() == status) {
                return n;
            }
        }
    }

    @Test
    void startPauseResumeResetStopThroughQmp() throws Exception {
        VmSpec spec = QemuItSupport.spec("life");
        driver.provision(spec);
        VmRuntime runtime = driver.start(spec);
        assertThat(runtime.pid()).isEqualTo(QemuItSupport.pidOf(driver, "life"));
        assertThat(runtime.monitor()).isEqualTo(driver.files("life").qmpSocket().toString());
        assertThat(driver.status("life")).isEqualTo(VmStatus.RUNNING);

        driver.pause("life");
        assertThat(driver.status("life")).isEqualTo(VmStatus.PAUSED);
        driver.reset("life");
        assertThat(driver.status("life")).isEqualTo(VmStatus.PAUSED);
        driver.resume("life");
        assertThat(driver.status("life")).isEqualTo(VmStatus.RUNNING);
        driver.reset("life");
        assertThat(driver.status("life")).isEqualTo(VmStatus.RUNNING);

        driver.stop("life", Duration.ZERO);
        assertThat(QemuItSupport.isGone(runtime.pid())).isTrue();
        assertThat(Path.of(runtime.monitor())).doesNotExist();
        assertThat(state.resolve("life/qemu.pid")).doesNotExist();
        assertThat(state.resolve("life/root.qcow2")).exists();
        assertThat(notices).noneMatch(n -> !n.status().isActive());
    }

    @Test
    void filesAreOwnerOnly() throws Exception {
        VmSpec spec = QemuItSupport.spec("perms");
        driver.provision(spec);
        VmRuntime runtime = driver.start(spec);
        assertThat(mode(state.resolve("perms"))).isEqualTo("rwx------");
        assertThat(mode(Path.of(runtime.monitor()))).isEqualTo("rw-------");
        assertThat(mode(state.resolve("perms/root.qcow2"))).isEqualTo("rw-------");
        assertThat(mode(state.resolve("perms/serial.log"))).isEqualTo("rw-------");
        assertThat(mode(state.resolve("perms/qemu.pid"))).isEqualTo("rw-------");
        assertThat(QemuItSupport.driverBuilder(root.resolve("fresh-state")).build().stateDirectory())
                .satisfies(p -> assertThat(mode(p)).isEqualTo("rwx------"));
        List<String> args = HostProcess.commandLine(QemuItSupport.pidOf(driver, "perms"));
        assertThat(args).containsSubsequence("-sandbox", QemuCommandLine.SANDBOX);
        driver.stop("perms", Duration.ZERO);
    }

    @Test
    void aGracefulStopOfAGuestThatIgnoresAcpiEscalatesAndReturnsWithTheProcessGone() throws Exception {
        VmSpec spec = QemuItSupport.spec("deaf");
        driver.provision(spec);
        long pid = driver.start(spec).pid();
        driver.stop("deaf", Duration.ofMillis(300));
        assertThat(QemuItSupport.isGone(pid)).isTrue();
        assertThat(driver.status("deaf")).isEqualTo(VmStatus.STOPPED);
        assertThat(driver.files("deaf").qmpSocket()).doesNotExist();
        assertThat(state.resolve("deaf/qemu.pid")).doesNotExist();
    }

    @Test
    void aQemuThatAnswersNothingIsStoppedBySignals() throws Exception {
        QemuDriver impatient = QemuDriver.builder()
                .stateDirectory(Files.createDirectory(state.resolve("impatient"), QemuItSupport.OWNER_ONLY))
                .accelerator(Accelerator.TCG).machine(MachineType.MICROVM).qmpTimeout(Duration.ofSeconds(1)).build();
        drivers.add(impatient);
        VmSpec spec = QemuItSupport.spec("frozen");
        impatient.provision(spec);
        long pid = impatient.start(spec).pid();
        // SIGSTOP: QEMU neither answers QMP nor handles SIGTERM; only SIGKILL ends it.
        assertThat(new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor()).isZero();
        impatient.stop("frozen", Duration.ofMillis(200));
        assertThat(QemuItSupport.isGone(pid)).isTrue();
        assertThat(impatient.files("frozen").qmpSocket()).doesNotExist();
        assertThat(impatient.files("frozen").pidFile()).doesNotExist();
        assertThat(impatient.status("frozen")).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void aStopInFlightCompletesWhenQemuIsKilledMeanwhile() throws Exception {
        VmSpec spec = QemuItSupport.spec("midstop");
        driver.provision(spec);
        long pid = driver.start(spec).pid();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<?> stopping = pool.submit(() -> driver.stop("midstop", Duration.ofSeconds(60)));
            Thread.sleep(200); // let the stop send its power-down request and start waiting
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            stopping.get(30, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertThat(QemuItSupport.isGone(pid)).isTrue();
        assertThat(driver.status("midstop")).isEqualTo(VmStatus.STOPPED);
        assertThat(notices).noneMatch(n -> n.id().equals("midstop"));
        assertThat(driver.files("midstop").pidFile()).doesNotExist();
    }

    @Test
    void aQemuKilledInTheMiddleOfItsStartEitherFailsTheStartOrIsNoticed() throws Exception {
        VmSpec spec = QemuItSupport.spec("midstart");
        driver.provision(spec);
        Path pidFile = driver.files("midstart").pidFile();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<VmRuntime> starting = pool.submit(() -> driver.start(spec));
            await("QEMU to write its pidfile", Duration.ofSeconds(30), () -> {
                try {
                    return Files.exists(pidFile) && !Files.readString(pidFile).isBlank();
                } catch (java.io.IOException e) {
                    return false;
                }
            });
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            try {
                starting.get(60, TimeUnit.SECONDS);
                assertThat(awaitNotice("midstart", VmStatus.CRASHED).reason()).isNotBlank();
            } catch (java.util.concurrent.ExecutionException e) {
                assertThat(e.getCause()).isInstanceOf(DriverException.class).hasMessageContaining("midstart");
            }
            await("the process to be gone", Duration.ofSeconds(10), () -> QemuItSupport.isGone(pid));
            assertThat(driver.status("midstart")).isIn(VmStatus.STOPPED, VmStatus.CRASHED);
            assertThat(driver.files("midstart").qmpSocket()).doesNotExist();
            assertThat(pidFile).doesNotExist();
            driver.start(spec);
            driver.stop("midstart", Duration.ZERO);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aStalePidfileFromADeadQemuDoesNotBlockAStart() throws Exception {
        VmSpec spec = QemuItSupport.spec("stale");
        driver.provision(spec);
        Files.writeString(driver.files("stale").pidFile(), "999999999\n");
        driver.start(spec);
        assertThat(driver.status("stale")).isEqualTo(VmStatus.RUNNING);
        driver.stop("stale", Duration.ZERO);
    }

    @Test
    void sigkillBehindTheBackIsNoticedAsACrash() throws Exception {
        VmSpec spec = QemuItSupport.spec("killed");
        driver.provision(spec);
        driver.start(spec);
        QemuItSupport.kill(driver, "killed", true);
        Notice notice = awaitNotice("killed", VmStatus.CRASHED);
        assertThat(notice.reason()).contains("died unexpectedly");
        assertThat(driver.status("killed")).isEqualTo(VmStatus.CRASHED);
        assertThat(driver.files("killed").qmpSocket()).doesNotExist();
        assertThat(state.resolve("killed/qemu.pid")).doesNotExist();
        driver.start(spec);
        assertThat(driver.status("killed")).isEqualTo(VmStatus.RUNNING);
        driver.stop("killed", Duration.ZERO);
    }

    @Test
    void sigtermBehindTheBackIsNoticedWithItsReason() throws Exception {
        VmSpec spec = QemuItSupport.spec("termed");
        driver.provision(spec);
        driver.start(spec);
        QemuItSupport.kill(driver, "termed", false);
        Notice notice = awaitNotice("termed", VmStatus.CRASHED);
        assertThat(notice.reason()).contains("signal");
    }

    @Test
    void pauseAndResumeOverTheOperatorMonitorAreNoticed() throws Exception {
        VmSpec spec = QemuItSupport.spec("elsewhere");
        driver.provision(spec);
        driver.start(spec);
        try (QmpClient operator = QmpClient.connect(driver.operatorMonitor("elsewhere").orElseThrow(), NOTICE)) {
            operator.execute("stop");
            assertThat(awaitNotice("elsewhere", VmStatus.PAUSED).reason()).contains("STOP");
            assertThat(driver.status("elsewhere")).isEqualTo(VmStatus.PAUSED);
            operator.execute("cont");
            assertThat(awaitNotice("elsewhere", VmStatus.RUNNING).reason()).contains("RESUME");
            assertThat(driver.status("elsewhere")).isEqualTo(VmStatus.RUNNING);
            assertThat(operator.execute("query-status").path("status").asText()).isEqualTo("running");
        }
        driver.stop("elsewhere", Duration.ZERO);
    }

    @Test
    void aQuitOverTheOperatorMonitorIsNoticedAsAStop() throws Exception {
        VmSpec spec = QemuItSupport.spec("quitter");
        driver.provision(spec);
        long pid = driver.start(spec).pid();
        Path operatorSocket = driver.operatorMonitor("quitter").orElseThrow();
        assertThat(mode(operatorSocket)).isEqualTo("rw-------");
        QemuFaults.quitOverOperatorMonitor(driver, "quitter");
        Notice notice = awaitNotice("quitter", VmStatus.STOPPED);
        assertThat(notice.reason()).contains("quit");
        assertThat(driver.status("quitter")).isEqualTo(VmStatus.STOPPED);
        assertThat(QemuItSupport.isGone(pid)).isTrue();
        assertThat(driver.files("quitter").qmpSocket()).doesNotExist();
        assertThat(operatorSocket).doesNotExist();
        assertThat(driver.files("quitter").pidFile()).doesNotExist();
        assertThat(driver.operatorMonitor("quitter")).isEmpty();
    }

    @Test
    void aQuitOverTheOperatorMonitorDuringStartEndsInAFailedStartOrAStop() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            for (int round = 0; round < 3; round++) {
                String id = "early-quit-" + round;
                VmSpec spec = QemuItSupport.spec(id);
                driver.provision(spec);
                Future<VmRuntime> start = pool.submit(() -> driver.start(spec));
                assertThat(QemuFaults.quitAsSoonAsItListens(driver, id, start::isDone))
                        .as("the operator monitor of %s accepted a quit", id).isTrue();
                try {
                    long pid = start.get(NOTICE.toSeconds(), TimeUnit.SECONDS).pid();
                    // The start completed, so the driver's monitor was ready for QEMU's SHUTDOWN event.
                    assertThat(awaitNotice(id, VmStatus.STOPPED).reason()).contains("quit");
                    assertThat(QemuItSupport.isGone(pid)).isTrue();
                } catch (java.util.concurrent.ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(DriverException.class).hasMessageContaining("VM '" + id + "'");
                }
                assertThat(driver.status(id)).isEqualTo(VmStatus.STOPPED);
                assertThat(QemuItSupport.qemuProcessesUnder(state.resolve(id))).isEmpty();
                assertThat(driver.files(id).operatorSocket()).doesNotExist();
                driver.start(spec);
                driver.stop(id, Duration.ZERO);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void withoutTheSettingThereIsNoOperatorMonitor() throws Exception {
        QemuDriver plain = QemuItSupport.driver(state.resolve("plain"));
        drivers.add(plain);
        VmSpec spec = QemuItSupport.spec("solo");
        plain.provision(spec);
        VmRuntime runtime = plain.start(spec);
        assertThat(plain.operatorMonitor("solo")).isEmpty();
        assertThat(plain.files("solo").operatorSocket()).doesNotExist();
        assertThat(HostProcess.commandLine(runtime.pid())).noneMatch(arg -> arg.contains("operator"));
        plain.stop("solo", Duration.ZERO);
    }

    @Test
    void aNewDriverReattachesToARunningVmAndCanStopIt() throws Exception {
        VmSpec spec = QemuItSupport.spec("phoenix");
        driver.provision(spec);
        VmRuntime runtime = driver.start(spec);
        driver.pause("phoenix");
        driver.close();
        assertThat(QemuItSupport.isGone(runtime.pid())).as("closing the driver leaves the VM running").isFalse();

        QemuDriver second = open(state);
        Vm vm = new Vm(spec, VmStatus.PAUSED, 4, Instant.EPOCH, Instant.EPOCH, "", runtime);
        assertThat(second.attach(vm)).isEqualTo(VmStatus.PAUSED);
        second.resume("phoenix");
        assertThat(second.status("phoenix")).isEqualTo(VmStatus.RUNNING);
        assertThat(second.stats("phoenix").disks()).as("the reattached VM's disks by the spec's names")
                .containsOnlyKeys("root");

        QemuItSupport.kill(second, "phoenix", true);
        assertThat(awaitNotice("phoenix", VmStatus.CRASHED).id()).isEqualTo("phoenix");
        assertThat(second.attach(vm)).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void aPidfileNamingSomeoneElsesProcessIsNeverMistakenForTheVm() throws Exception {
        VmSpec spec = QemuItSupport.spec("reused");
        driver.provision(spec);
        Process stranger = new ProcessBuilder("sleep", "60").start();
        try {
            Files.writeString(state.resolve("reused/qemu.pid"), stranger.pid() + "\n");
            Vm vm = new Vm(spec, VmStatus.RUNNING, 2, Instant.EPOCH, Instant.EPOCH, "", new VmRuntime(stranger.pid(), ""));
            assertThat(driver.attach(vm)).isEqualTo(VmStatus.STOPPED);
            assertThat(stranger.isAlive()).isTrue();
            assertThat(state.resolve("reused/qemu.pid")).doesNotExist();
            driver.stop("reused", Duration.ZERO);
            assertThat(stranger.isAlive()).isTrue();
        } finally {
            stranger.destroyForcibly();
        }
    }

    @Test
    void tenVmsStartAndStopInParallel() throws Exception {
        List<VmSpec> specs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            VmSpec spec = QemuItSupport.spec("par-" + i);
            driver.provision(spec);
            specs.add(spec);
        }
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try {
            List<Future<VmRuntime>> starts = new ArrayList<>();
            for (VmSpec spec : specs) {
                starts.add(pool.submit(() -> driver.start(spec)));
            }
            List<Long> pids = new ArrayList<>();
            for (Future<VmRuntime> f : starts) {
                pids.add(f.get(120, TimeUnit.SECONDS).pid());
            }
            assertThat(pids).doesNotHaveDuplicates().hasSize(10);
            assertThat(QemuItSupport.qemuProcessesUnder(state)).containsExactlyInAnyOrderElementsOf(pids);
            for (VmSpec spec : specs) {
                assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
            }
            List<Future<?>> stops = new ArrayList<>();
            for (int i = 0; i < specs.size(); i++) {
                String id = specs.get(i).id();
                Duration grace = i % 2 == 0 ? Duration.ZERO : Duration.ofMillis(200);
                stops.add(pool.submit(() -> driver.stop(id, grace)));
            }
            for (Future<?> f : stops) {
                f.get(120, TimeUnit.SECONDS);
            }
            assertThat(QemuItSupport.qemuProcessesUnder(state)).isEmpty();
            assertThat(notices).noneMatch(n -> !n.status().isActive());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aDeepStateDirectoryPutsTheSocketInAShortDirectoryThatReattachFinds() throws Exception {
        Path deep = Files.createDirectories(state.resolve("a-rather-long-directory-name/".repeat(4)), QemuItSupport.OWNER_ONLY);
        QemuDriver d = open(deep);
        VmSpec spec = QemuItSupport.spec("deep");
        d.provision(spec);
        VmRuntime runtime = d.start(spec);
        Path socket = Path.of(runtime.monitor());
        assertThat(socket.getParent()).isEqualTo(VmFiles.shortSocketDirectory(deep));
        assertThat(mode(socket.getParent())).isEqualTo("rwx------");
        assertThat(mode(socket)).isEqualTo("rw-------");
        d.close();
        QemuDriver again = open(deep);
        Vm vm = new Vm(spec, VmStatus.RUNNING, 2, Instant.EPOCH, Instant.EPOCH, "", runtime);
        assertThat(again.attach(vm)).isEqualTo(VmStatus.RUNNING);
        again.stop("deep", Duration.ZERO);
        assertThat(socket).doesNotExist();
        again.deprovision(spec);
        assertThat(deep.resolve("deep")).doesNotExist();
        assertThat(socket.getParent()).as("nothing left in /tmp").doesNotExist();
    }

    @Test
    void aStateDirectoryWithCommasWorksBecauseCommasAreEscaped() throws Exception {
        Path odd = Files.createDirectories(state.resolve("a,b,readonly=on"), QemuItSupport.OWNER_ONLY);
        QemuDriver d = open(odd);
        VmSpec spec = QemuItSupport.spec("comma");
        d.provision(spec);
        d.start(spec);
        assertThat(d.status("comma")).isEqualTo(VmStatus.RUNNING);
        assertThat(odd.resolve("comma/serial.log")).exists();
        d.stop("comma", Duration.ZERO);
    }

    @Test
    void aFailedStartLeavesNoProcessAndNoRuntimeFilesAndSaysWhatQemuSaid() throws Exception {
        VmSpec spec = QemuItSupport.spec("broken");
        driver.provision(spec);
        Files.writeString(state.resolve("broken/root.qcow2"), "not a qcow2 image at all", StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> driver.start(spec))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("broken")
                .hasMessageContaining("(" + driver.accelerator() + ", CPU model " + driver.cpuModel() + ")")
                .hasMessageContaining("QEMU said")
                .hasMessageContaining("qcow2");
        assertThat(QemuItSupport.qemuProcessesUnder(state)).isEmpty();
        assertThat(driver.files("broken").qmpSocket()).doesNotExist();
        assertThat(state.resolve("broken/qemu.pid")).doesNotExist();
        assertThat(state.resolve("broken/qemu-start.log")).doesNotExist();
        assertThat(driver.status("broken")).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void aRawDiskLargerThanTheFilesystemIsRefusedAndNothingIsLeft() {
        VmSpec spec = VmSpec.builder().id("huge").memoryMiB(64).disk(DiskSpec.qcow2("ok", 1L << 20))
                .disk(DiskSpec.raw("huge", VmSpec.MAX_DISK_BYTES)).build();
        assertThatThrownBy(() -> driver.provision(spec))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("huge")
                .hasMessageContaining("nothing kept");
        assertThat(state.resolve("huge")).doesNotExist();
    }

    @Test
    void onlyX86GuestsAreAccepted() {
        VmSpec arm = VmSpec.builder().id("arm").architecture(Architecture.AARCH64).build();
        assertThatThrownBy(() -> driver.check(arm)).isInstanceOfSatisfying(InvalidVmSpecException.class,
                e -> assertThat(e.violations()).singleElement().satisfies(v -> assertThat(v.field()).isEqualTo("architecture")));
        assertThatThrownBy(() -> driver.provision(arm)).isInstanceOf(InvalidVmSpecException.class);
        assertThat(state.resolve("arm")).doesNotExist();
    }

    @Test
    void stopOfAVmThatIsNotRunningOnlyCleansUp() {
        VmSpec spec = QemuItSupport.spec("idle");
        driver.provision(spec);
        driver.stop("idle", Duration.ofSeconds(1));
        assertThat(driver.status("idle")).isEqualTo(VmStatus.STOPPED);
        assertThatThrownBy(() -> driver.pause("idle")).isInstanceOf(DriverException.class).hasMessageContaining("idle");
    }

    private static String mode(Path p) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, java.nio.file.LinkOption.NOFOLLOW_LINKS));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
