package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.VmManager;
import io.horcrux.IllegalVmStateException;
import io.horcrux.model.DiskStats;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * {@link VmManagerContract} plus what only the {@link SimulatedDriver} can provoke on demand: a
 * driver call that fails, a VM that crashes or whose guest powers off behind the manager's back,
 * a guest that ignores the ACPI power-down. A store's tests extend this class, supplying fresh
 * stores and simulated drivers.
 */
public abstract class SimulatedVmManagerContract extends VmManagerContract {
    /** A fresh simulated driver with no VMs, for example {@code SimulatedDriver.create()}; the manager closes it. */
    @Override
    protected abstract SimulatedDriver newDriver();

    /** The driver of {@link #manager}. */
    protected SimulatedDriver simulated() {
        return (SimulatedDriver) driver;
    }

    @Test
    void failedProvisioningStoresNothing() {
        simulated().failNext(SimulatedDriver.Operation.PROVISION, new DriverException("disk full"));

        assertThatThrownBy(() -> manager.create(spec("web-1"))).isInstanceOf(DriverException.class).hasMessage("disk full");
        assertThat(manager.find("web-1")).isEmpty();
        assertThat(manager.count(VmQuery.all())).isZero();
        manager.create(spec("web-1"));
    }

    @Test
    void foreignDriverFailuresAreWrappedInADriverException() {
        simulated().failNext(SimulatedDriver.Operation.START, new IllegalStateException("boom"));
        manager.create(spec("web-1"));
        assertThatThrownBy(() -> manager.start("web-1")).isInstanceOf(DriverException.class)
                .hasMessageContaining("web-1").hasCauseInstanceOf(IllegalStateException.class);
    }

    @Test
    void createAllIsAllOrNoneWhenProvisioningFailsMidway() {
        manager.create(spec("other"));
        List<VmSpec> specs = IntStream.range(0, 5).mapToObj(i -> spec("vm-" + i)).toList();
        simulated().failNext(SimulatedDriver.Operation.PROVISION, "vm-2", new DriverException("no space left"));

        assertThatThrownBy(() -> manager.createAll(specs)).isInstanceOf(DriverException.class).hasMessage("no space left");

        assertThat(manager.count(VmQuery.all())).isEqualTo(1);
        assertThat(manager.find("vm-0")).isEmpty();
        // The simulated driver refuses to provision a VM twice: vm-0 and vm-1 were undone.
        assertThat(manager.createAll(specs)).hasSize(5);
        assertThat(manager.count(VmQuery.all())).isEqualTo(6);
    }

    @Test
    void aFailedStartFallsBackToStoppedWithTheReason() {
        manager.create(spec("web-1"));
        simulated().failNext(SimulatedDriver.Operation.START, new DriverException("qemu exited: no such file"));

        assertThatThrownBy(() -> manager.start("web-1")).isInstanceOf(DriverException.class);
        Vm vm = manager.get("web-1");
        assertThat(vm.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(vm.statusReason()).contains("no such file");
        assertThat(manager.start("web-1").status()).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void aFailedStopWithTheProcessAliveRestoresTheStatus() {
        manager.create(spec("web-1"));
        manager.start("web-1");
        simulated().failNext(SimulatedDriver.Operation.STOP, new DriverException("monitor timed out"));

        assertThatThrownBy(() -> manager.stop("web-1", Duration.ZERO)).isInstanceOf(DriverException.class);
        assertThat(manager.get("web-1").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(manager.stop("web-1", Duration.ZERO).status()).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void gracefulStopOfAGuestThatIgnoresItEndsByForceAfterTheGrace() {
        manager.close();
        driver = SimulatedDriver.builder().guestShutdownTime(null).build();
        manager = VmManager.builder().store(newStore()).driver(driver).build();
        manager.create(spec("web-1"));
        manager.start("web-1");
        assertThat(manager.stop("web-1", Duration.ofMillis(50)).status()).isEqualTo(VmStatus.STOPPED);
        assertThat(driver.status("web-1")).isEqualTo(VmStatus.STOPPED);
    }

    @Test
    void aVmThatDiesBehindTheManagersBackBecomesCrashedWithOneEvent() throws InterruptedException {
        manager.create(spec("web-1"));
        manager.start("web-1");
        assertThat(nextEvent().kind()).isEqualTo(VmEvent.Kind.CREATED);
        for (int i = 0; i < 2; i++) {
            nextEvent();
        }

        simulated().crash("web-1", "killed by signal 9");

        VmEvent crash = nextEvent();
        assertThat(crash.previousStatus()).isEqualTo(VmStatus.RUNNING);
        assertThat(crash.newStatus()).isEqualTo(VmStatus.CRASHED);
        assertThat(crash.reason()).isEqualTo("killed by signal 9");
        assertThat(manager.get("web-1").status()).isEqualTo(VmStatus.CRASHED);
        assertThat(manager.start("web-1").status()).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void aGuestThatPowersOffBecomesStopped() throws InterruptedException {
        manager.create(spec("web-1"));
        manager.start("web-1");
        simulated().guestPowerOff("web-1");
        await("the power-off to be recorded", () -> manager.get("web-1").status() == VmStatus.STOPPED);
        assertThat(manager.get("web-1").statusReason()).isEqualTo("guest powered off");
    }

    @Test
    void theConsoleShowsWhatTheGuestPrintsAndEchoesWhatIsTyped() {
        manager.create(spec("web-1"));
        manager.start("web-1");
        io.horcrux.VmConsole console = manager.console("web-1");
        List<String> followed = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (io.horcrux.Subscription tail = console.follow(followed::add)) {
            simulated().print("web-1", "booting\nready\n");
            assertThat(console.await(java.util.regex.Pattern.compile("^rea"), Duration.ofSeconds(20))).isEqualTo("ready");
            console.write("echo hi\n");
            assertThat(console.await(java.util.regex.Pattern.compile("echo"), Duration.ofSeconds(20))).isEqualTo("echo hi");
        }
        simulated().print("web-1", "after\n");
        assertThat(followed).containsExactly("booting\nready\n", "echo hi\n");
        assertThat(console.output()).isEqualTo("booting\nready\necho hi\nafter\n");
        assertThatThrownBy(() -> console.await(java.util.regex.Pattern.compile("never"), Duration.ofMillis(50)))
                .isInstanceOf(io.horcrux.ConsoleTimeoutException.class).hasMessageContaining("within 50 ms")
                .hasMessageContaining("after");
        manager.stop("web-1", Duration.ZERO);
        assertThat(console.output()).as("the last run's output").contains("after");
        manager.start("web-1");
        assertThat(console.output()).as("a new start begins a new output").isEmpty();
        manager.stop("web-1", Duration.ZERO);
    }

    @Test
    void aGuestThatRebootsStaysRunningAndListenersHearOfIt() throws InterruptedException {
        manager.create(spec("web-1"));
        manager.start("web-1");
        simulated().guestReboot("web-1");
        VmEvent reboot = nextEventAfterTheStart();
        assertThat(reboot.previousStatus()).isEqualTo(VmStatus.RUNNING);
        assertThat(reboot.newStatus()).isEqualTo(VmStatus.RUNNING);
        assertThat(reboot.reason()).contains("rebooted");
        assertThat(manager.get("web-1").status()).isEqualTo(VmStatus.RUNNING);
        manager.stop("web-1", Duration.ZERO);
    }

    @Test
    void aGuestThatPanicsIsCrashedWithTheReason() throws InterruptedException {
        manager.create(spec("web-1"));
        manager.start("web-1");
        simulated().guestPanic("web-1");
        VmEvent crash = nextEventAfterTheStart();
        assertThat(crash.newStatus()).isEqualTo(VmStatus.CRASHED);
        assertThat(crash.reason()).contains("guest panicked");
        assertThat(manager.console("web-1").output()).contains("Kernel panic");
    }

    @Test
    void theGuestsDiskIoShowsInItsStatsAndEachStartBeginsAtZero() {
        manager.create(spec("web-1"));
        assertThatThrownBy(() -> simulated().diskWrite("web-1", "root", 1)).as("a stopped VM does no I/O")
                .isInstanceOf(DriverException.class);
        manager.start("web-1");
        assertThat(manager.stats("web-1").disk("root")).isEqualTo(DiskStats.ZERO);
        simulated().diskWrite("web-1", "root", 4 << 20);
        simulated().diskWrite("web-1", "root", 512);
        simulated().diskRead("web-1", "root", 4096);
        assertThat(manager.stats("web-1").disk("root")).isEqualTo(new DiskStats(4096, (4 << 20) + 512, 1, 2));
        assertThat(manager.stats("web-1").memoryRssBytes()).as("the spec's memory").isEqualTo(64L << 20);
        assertThatThrownBy(() -> simulated().diskWrite("web-1", "data", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("data").hasMessageContaining("root");
        assertThatThrownBy(() -> simulated().diskWrite("web-1", "root", -1)).isInstanceOf(IllegalArgumentException.class);
        manager.stop("web-1", Duration.ZERO);
        manager.start("web-1");
        assertThat(manager.stats("web-1").disk("root")).as("after a restart").isEqualTo(DiskStats.ZERO);
    }

    @Test
    void aVmThatCrashesIsLeftOutOfStatsAllAndRefusedByStats() {
        manager.create(spec("web-1"));
        manager.create(spec("web-2"));
        manager.startAll(List.of("web-1", "web-2"));
        simulated().crash("web-2", "killed by signal 9");
        assertThat(manager.statsAll(List.of("web-1", "web-2"))).containsOnlyKeys("web-1");
        assertThatThrownBy(() -> manager.stats("web-2")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("CRASHED");
    }

    @Test
    void aDriverThatFailsToReadStatsIsADriverErrorAndStatsAllLeavesThatVmOut() {
        manager.create(spec("web-1"));
        manager.create(spec("web-2"));
        manager.startAll(List.of("web-1", "web-2"));
        simulated().failNext(SimulatedDriver.Operation.STATS, "web-1", new IllegalStateException("monitor hung"));
        assertThatThrownBy(() -> manager.stats("web-1")).isInstanceOf(DriverException.class)
                .hasMessageContaining("web-1").hasCauseInstanceOf(IllegalStateException.class);
        simulated().failNext(SimulatedDriver.Operation.STATS, "web-2", new DriverException("monitor timed out"));
        assertThat(manager.statsAll(List.of("web-1", "web-2"))).containsOnlyKeys("web-1");
        assertThat(manager.statsAll(List.of("web-1", "web-2"))).as("the failure was for one call").hasSize(2);
    }

    /** The next event that is not the create's or one of a start's own (STOPPED -> STARTING -> RUNNING). */
    private VmEvent nextEventAfterTheStart() throws InterruptedException {
        VmEvent event = nextEvent();
        while (event.kind() == VmEvent.Kind.CREATED || event.newStatus() == VmStatus.STARTING
                || event.previousStatus() == VmStatus.STARTING) {
            event = nextEvent();
        }
        return event;
    }

    @Test
    void aStopSaysHowItEnded() {
        manager.create(spec("web-1"));
        manager.start("web-1");
        assertThat(manager.stop("web-1", Duration.ofSeconds(5)).statusReason()).isEqualTo("the guest powered off when asked");
        manager.start("web-1");
        assertThat(manager.stop("web-1", Duration.ZERO).statusReason()).isEqualTo("forced off");
    }

    // ---------------------------------------------------------------- snapshots

    @Test
    void aRevertBringsBackTheDisksAndWithMemoryTheGuestsMemory() {
        manager.create(spec("sim-snap"));
        simulated().writeDisk("sim-snap", "root", "marker-1");
        manager.snapshot("sim-snap", "disk-1");
        simulated().writeDisk("sim-snap", "root", "overwritten");
        manager.revert("sim-snap", "disk-1");
        assertThat(simulated().diskContent("sim-snap", "root")).isEqualTo("marker-1");

        manager.start("sim-snap");
        simulated().setGuestMemory("sim-snap", "in-tmpfs");
        manager.snapshot("sim-snap", "mem");
        simulated().setGuestMemory("sim-snap", "changed");
        simulated().writeDisk("sim-snap", "root", "later");
        assertThat(manager.revert("sim-snap", "mem").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(simulated().guestMemory("sim-snap")).isEqualTo("in-tmpfs");
        assertThat(simulated().diskContent("sim-snap", "root")).isEqualTo("marker-1");
    }

    @Test
    void aTreeWithABranchKeepsTheRightContentAtEverySnapshotAfterAMiddleOneIsDeleted() {
        manager.create(spec("sim-tree"));
        simulated().writeDisk("sim-tree", "root", "A");
        manager.snapshot("sim-tree", "a");
        simulated().writeDisk("sim-tree", "root", "B");
        manager.snapshot("sim-tree", "b");
        simulated().writeDisk("sim-tree", "root", "C");
        manager.snapshot("sim-tree", "c");
        manager.revert("sim-tree", "b");
        simulated().writeDisk("sim-tree", "root", "D");
        manager.snapshot("sim-tree", "d");

        manager.deleteSnapshot("sim-tree", "b");

        assertThat(manager.snapshots("sim-tree")).extracting(x -> x.name() + "<" + x.parent().orElse(""))
                .containsExactly("a<", "c<a", "d<a");
        for (String[] expected : new String[][] {{"a", "A"}, {"c", "C"}, {"d", "D"}, {"a", "A"}}) {
            manager.revert("sim-tree", expected[0]);
            assertThat(simulated().diskContent("sim-tree", "root")).as(expected[0]).isEqualTo(expected[1]);
        }
        assertThat(simulated().hasSnapshot("sim-tree", "b")).isFalse();
    }

    @Test
    void aSnapshotTheDriverFailsToTakeIsNotRecorded() {
        manager.create(spec("sim-fail"));
        simulated().failNext(SimulatedDriver.Operation.SNAPSHOT, new DriverException("no space left"));
        assertThatThrownBy(() -> manager.snapshot("sim-fail", "s1")).isInstanceOf(DriverException.class)
                .hasMessage("no space left");
        assertThat(manager.snapshots("sim-fail")).isEmpty();
        simulated().failNext(SimulatedDriver.Operation.DELETE_SNAPSHOT, new DriverException("busy"));
        manager.snapshot("sim-fail", "s1");
        assertThatThrownBy(() -> manager.deleteSnapshot("sim-fail", "s1")).isInstanceOf(DriverException.class);
        assertThat(manager.snapshots("sim-fail")).extracting(io.horcrux.model.Snapshot::name).containsExactly("s1");
        assertThat(simulated().hasSnapshot("sim-fail", "s1")).isTrue();
    }

    // ---------------------------------------------------------------- templates and clones

    @Test
    void aLinkedCloneReadsItsTemplateAndItsWritesNeverReachIt() {
        manager.create(spec("sim-tpl"));
        simulated().writeDisk("sim-tpl", "root", "golden image");
        manager.makeTemplate("sim-tpl");
        assertThat(simulated().isTemplate("sim-tpl")).isTrue();
        assertThatThrownBy(() -> simulated().writeDisk("sim-tpl", "root", "changed")).isInstanceOf(DriverException.class)
                .hasMessageContaining("read-only");

        manager.clone("sim-tpl", "sim-a", io.horcrux.model.CloneMode.LINKED);
        manager.clone("sim-tpl", "sim-b", io.horcrux.model.CloneMode.LINKED);
        assertThat(simulated().diskContent("sim-a", "root")).isEqualTo("golden image");
        manager.start("sim-a");
        simulated().writeDisk("sim-a", "root", "a's change");
        assertThat(simulated().diskContent("sim-tpl", "root")).isEqualTo("golden image");
        assertThat(simulated().diskContent("sim-b", "root")).isEqualTo("golden image");
        assertThat(simulated().diskContent("sim-a", "root")).isEqualTo("a's change");
    }

    @Test
    void aFullCloneOfAStoppedVmIsIndependentBothWays() {
        manager.create(spec("sim-src"));
        simulated().writeDisk("sim-src", "root", "before");
        manager.clone("sim-src", "sim-copy", io.horcrux.model.CloneMode.FULL);
        simulated().writeDisk("sim-src", "root", "source after");
        simulated().writeDisk("sim-copy", "root", "copy after");
        assertThat(simulated().diskContent("sim-src", "root")).isEqualTo("source after");
        assertThat(simulated().diskContent("sim-copy", "root")).isEqualTo("copy after");
        assertThat(simulated().isTemplate("sim-src")).isFalse();
    }

    @Test
    void aTemplateOrCloneTheDriverFailsLeavesNothingChanged() {
        manager.create(spec("sim-t"));
        simulated().failNext(SimulatedDriver.Operation.MAKE_TEMPLATE, new DriverException("read-only file system"));
        assertThatThrownBy(() -> manager.makeTemplate("sim-t")).isInstanceOf(DriverException.class)
                .hasMessage("read-only file system");
        Vm back = manager.get("sim-t");
        assertThat(back.status()).as("back to STOPPED").isEqualTo(VmStatus.STOPPED);
        assertThat(back.statusReason()).contains("read-only file system");
        assertThat(simulated().isTemplate("sim-t")).isFalse();
        manager.start("sim-t");
        manager.stop("sim-t", java.time.Duration.ZERO);

        manager.makeTemplate("sim-t");
        simulated().failNext(SimulatedDriver.Operation.CLONE, new DriverException("no space left"));
        assertThatThrownBy(() -> manager.clone("sim-t", "sim-c", io.horcrux.model.CloneMode.LINKED))
                .isInstanceOf(DriverException.class).hasMessage("no space left");
        assertThat(manager.find("sim-c")).isEmpty();
        assertThat(simulated().provisionedIds()).doesNotContain("sim-c");
        manager.delete("sim-t"); // the failed clone left no link
    }
}
