package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.IllegalVmStateException;
import io.horcrux.VmConsole;
import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.DiskStats;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.TestGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Live stats of the test guest under a manager over the QEMU driver: what the guest does shows
 * in them (disk writes in its disk's counters, a busy loop in its vCPU time), and many VMs are
 * read in one call.
 */
class QemuStatsIT {
    private static final Duration BOOT = Duration.ofSeconds(90);
    private static final Duration ANSWER = Duration.ofSeconds(120);
    private static final long MIB = 1L << 20;
    private static TestGuest guest;
    private static Path root;

    private VmManager manager;

    @BeforeAll
    static void locateGuest() throws Exception {
        guest = TestGuest.locate();
        root = QemuItSupport.newStateDirectory("stats");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    @BeforeEach
    void open() throws Exception {
        manager = VmManager.builder().store(InMemoryVmStore.create())
                .driver(QemuDriver.builder().stateDirectory(Files.createTempDirectory(root, "s"))
                        .qmpTimeout(Duration.ofSeconds(30)).build())
                .stopVmsOnClose(true).build();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private void bootGuest(String id) {
        manager.create(VmSpec.builder().id(id).memoryMiB(256).cpus(1).disk(DiskSpec.qcow2("root", 64 * MIB))
                .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline())).build());
        manager.start(id);
        manager.console(id).await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
    }

    /** Runs a command in the guest's shell and returns its exit status as the guest printed it. */
    private static String run(VmConsole console, String command, String marker) {
        console.write(command + "; echo " + marker + "=$?\n");
        return console.await(Pattern.compile("^" + marker + "=\\d+$"), ANSWER);
    }

    @Test
    void fourMebibytesWrittenByTheGuestShowInItsDisksWrittenBytes() {
        bootGuest("disk");
        VmConsole console = manager.console("disk");
        assertThat(run(console, "ls /sys/block | grep -qx vda", "has-vda")).as("the root disk is vda in the guest")
                .isEqualTo("has-vda=0");
        VmStats before = manager.stats("disk");
        assertThat(before.disks()).containsOnlyKeys("root");
        assertThat(run(console, "dd if=/dev/zero of=/dev/vda bs=1M count=4 conv=fsync 2>/dev/null", "dd"))
                .isEqualTo("dd=0");
        VmStats after = manager.stats("disk");
        DiskStats was = before.disk("root");
        DiskStats is = after.disk("root");
        assertThat(is.writtenBytes() - was.writtenBytes()).isGreaterThanOrEqualTo(4 * MIB);
        assertThat(is.writeOps()).isGreaterThan(was.writeOps());
        assertThat(is.readBytes()).isGreaterThanOrEqualTo(was.readBytes());
        assertThat(after.memoryRssBytes()).as("QEMU's resident memory").isGreaterThan(16 * MIB);
        assertThat(after.uptime()).isGreaterThan(before.uptime()).isLessThan(Duration.ofMinutes(10));
    }

    @Test
    void aBusyLoopInTheGuestShowsInItsVcpuTimeAndAStoppedVmHasNoStats() {
        bootGuest("busy");
        VmConsole console = manager.console("busy");
        VmStats before = manager.stats("busy");
        long started = System.nanoTime();
        assertThat(run(console, "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done", "loop")).isEqualTo("loop=0");
        Duration wall = Duration.ofNanos(System.nanoTime() - started);
        VmStats after = manager.stats("busy");
        Duration used = after.cpuTime().minus(before.cpuTime());
        assertThat(used).as("vCPU time of a loop that took %s of wall time", wall)
                .isGreaterThanOrEqualTo(Duration.ofMillis(200))
                .isLessThanOrEqualTo(wall.plusSeconds(1));
        manager.pause("busy");
        assertThat(manager.stats("busy").uptime()).as("a paused VM has stats").isGreaterThanOrEqualTo(after.uptime());
        manager.stop("busy", Duration.ZERO);
        assertThatThrownBy(() -> manager.stats("busy")).isInstanceOf(IllegalVmStateException.class)
                .hasMessageContaining("busy").hasMessageContaining("STOPPED");
    }

    @Test
    void statsAllReadsEveryRunningVmAndLeavesOutTheOthers() {
        bootGuest("one");
        bootGuest("two");
        manager.create(VmSpec.builder().id("idle").memoryMiB(64).cpus(1).build());
        Map<String, VmStats> all = manager.statsAll(List.of("two", "idle", "one", "unknown", "two"));
        assertThat(all).containsOnlyKeys("two", "one");
        assertThat(List.copyOf(all.keySet())).as("the order of the ids").containsExactly("two", "one");
        for (VmStats stats : all.values()) {
            assertThat(stats.disks()).containsOnlyKeys("root");
            assertThat(stats.cpuTime()).isPositive();
            assertThat(stats.memoryRssBytes()).isGreaterThan(16 * MIB);
        }
    }
}
