package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmConsole;
import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Snapshot;
import io.horcrux.model.SnapshotMode;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.TestGuest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Snapshots seen by the real test guest on real QEMU (the accelerator the probe chose): a marker
 * the guest wrote to its disk comes back after a revert; a value kept only in the guest's memory
 * comes back after a revert with memory, and the guest runs on from there without booting again;
 * a tree with a branch, after a snapshot in its middle is deleted, keeps the right content at
 * every remaining snapshot. The guest writes through its console with {@code dd} and {@code sync};
 * the test reads the disk back on the host ({@code qemu-img convert}) while the VM is stopped.
 */
class SnapshotsGuestIT {
    private static final Duration BOOT = Duration.ofSeconds(90);
    private static final Duration ANSWER = Duration.ofSeconds(30);
    private static final int MARK_OFFSET = 1 << 20; // sector 2048
    private static TestGuest guest;
    private static Path root;

    private Path work;
    private QemuDriver driver;
    private VmManager manager;
    private int answers;

    @BeforeAll
    static void locateGuest() throws Exception {
        guest = TestGuest.locate();
        root = QemuItSupport.newStateDirectory("snapshots-guest");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    @BeforeEach
    void open() throws Exception {
        Path state = Files.createTempDirectory(root, "s");
        work = Files.createTempDirectory(root, "w");
        driver = QemuDriver.builder().stateDirectory(state).qmpTimeout(Duration.ofSeconds(60)).build();
        manager = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).stopVmsOnClose(true).build();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void aRevertWithMemoryBringsBackTheDiskAndTheGuestsMemoryAndTheGuestRunsOnWithoutABoot() throws Exception {
        manager.create(guestSpec("mem"));
        VmConsole console = boot("mem");
        write(console, "MARK-ONE");
        assertThat(answer(console, "echo KEEP-4711 > /tmp/value; cat /tmp/value")).isEqualTo("KEEP-4711");
        double uptimeAtSnapshot = Double.parseDouble(answer(console, "cut -d' ' -f1 /proc/uptime"));

        Snapshot one = manager.snapshot("mem", "one");
        assertThat(one.withMemory()).isTrue();
        write(console, "MARK-TWO");
        assertThat(answer(console, "echo CHANGED > /tmp/value; cat /tmp/value")).isEqualTo("CHANGED");
        int before = console.output().length();

        assertThat(manager.revert("mem", "one").status()).isEqualTo(VmStatus.RUNNING);

        assertThat(answer(console, "cat /tmp/value")).as("the value kept only in the guest's memory; console:\n%s",
                console.output()).isEqualTo("KEEP-4711");
        assertThat(answer(console, "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c 8"))
                .as("the disk as the guest sees it").isEqualTo("MARK-ONE");
        assertThat(Double.parseDouble(answer(console, "cut -d' ' -f1 /proc/uptime")))
                .as("the guest's clock runs on from the snapshot").isGreaterThanOrEqualTo(uptimeAtSnapshot);
        String after = console.output().substring(Math.min(before, console.output().length()));
        assertThat(after).as("no second boot on the console").doesNotContain("Linux version")
                .doesNotContain(guest.readyLine());
        stop("mem");
        assertThat(markOnHost("mem", "mem-1.raw")).as("the disk on the host").isEqualTo("MARK-ONE");
    }

    @Test
    void aTreeWithABranchKeepsTheRightDiskContentAtEverySnapshotAfterAMiddleOneIsDeleted() throws Exception {
        manager.create(guestSpec("tree"));
        VmConsole console = boot("tree");
        write(console, "STATE-AA");
        manager.snapshot("tree", "a", SnapshotMode.DISKS_ONLY);
        write(console, "STATE-BB");
        manager.snapshot("tree", "b", SnapshotMode.DISKS_ONLY);
        write(console, "STATE-CC");
        manager.snapshot("tree", "c", SnapshotMode.DISKS_ONLY);

        assertThat(manager.revert("tree", "b").status()).as("a disk-only revert stops the VM").isEqualTo(VmStatus.STOPPED);
        assertThat(markOnHost("tree", "tree-b.raw")).as("the disk marker came back").isEqualTo("STATE-BB");
        console = boot("tree");
        assertThat(answer(console, "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c 8"))
                .as("the guest, booted again, reads the reverted disk").isEqualTo("STATE-BB");
        write(console, "STATE-DD");
        assertThat(manager.snapshot("tree", "d", SnapshotMode.DISKS_ONLY).parent()).as("a branch from b").contains("b");
        stop("tree");

        manager.deleteSnapshot("tree", "b");

        assertThat(manager.snapshots("tree")).extracting(s -> s.name() + "<" + s.parent().orElse(""))
                .containsExactly("a<", "c<a", "d<a");
        for (String[] expected : new String[][] {{"a", "STATE-AA"}, {"c", "STATE-CC"}, {"d", "STATE-DD"}}) {
            manager.revert("tree", expected[0]);
            assertThat(markOnHost("tree", "tree-" + expected[0] + ".raw")).as("at snapshot " + expected[0])
                    .isEqualTo(expected[1]);
        }
        assertThat(driver.qemuImg().snapshotNames(disk("tree"))).containsExactlyInAnyOrder("a", "c", "d");
    }

    private VmSpec guestSpec(String id) {
        return VmSpec.builder().id(id).memoryMiB(256).cpus(1)
                .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline()))
                .disk(DiskSpec.qcow2("root", 16L << 20)).build();
    }

    private VmConsole boot(String id) {
        manager.start(id);
        VmConsole console = manager.console(id);
        console.await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
        return console;
    }

    /** Runs a command in the guest and returns what it printed on its one line of answer. */
    private String answer(VmConsole console, String command) {
        String tag = "snap" + (++answers);
        console.write("echo \"" + tag + ":$(" + command + ")\"\n");
        String line = console.await(Pattern.compile("^" + tag + ":"), ANSWER);
        return line.substring(tag.length() + 1).strip();
    }

    /** The guest writes {@code mark} at sector 2048 of its disk and syncs. */
    private void write(VmConsole console, String mark) {
        assertThat(answer(console, "printf '" + mark + "' | dd of=/dev/vda bs=512 seek=2048 conv=notrunc"
                + " 2>/dev/null; sync; echo rc=$?")).as("the guest's write; console:\n%s", console.output()).isEqualTo("rc=0");
    }

    private void stop(String id) {
        assertThat(manager.stop(id, Duration.ofSeconds(60)).status()).isEqualTo(VmStatus.STOPPED);
    }

    private Path disk(String id) {
        return driver.files(id).disk(manager.get(id).spec().disks().get(0));
    }

    /** The 8 bytes at sector 2048 of the VM's stopped disk, read on the host. */
    private String markOnHost(String id, String rawName) throws IOException {
        Path raw = work.resolve(rawName);
        driver.qemuImg().convert(disk(id), DiskFormat.QCOW2, raw, DiskFormat.RAW, p -> { });
        byte[] bytes = Files.readAllBytes(raw);
        Files.delete(raw);
        return new String(bytes, MARK_OFFSET, 8, StandardCharsets.US_ASCII);
    }
}
