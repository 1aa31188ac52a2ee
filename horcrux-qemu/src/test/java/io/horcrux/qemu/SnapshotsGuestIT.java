package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmConsole;
import io.horcrux.model.Snapshot;
import io.horcrux.model.SnapshotMode;
import io.horcrux.model.VmStatus;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Snapshots seen by the real test guest on real QEMU (the accelerator the probe chose): a marker
 * the guest wrote to its disk comes back after a revert; a value kept only in the guest's memory
 * comes back after a revert with memory, and the guest runs on from there without booting again;
 * a tree with a branch, after a snapshot in its middle is deleted, keeps the right content at
 * every remaining snapshot. The guest writes through its console with {@code dd} and {@code sync};
 * the test reads the disk back on the host ({@code qemu-img convert}) while the VM is stopped.
 */
class SnapshotsGuestIT {
    @RegisterExtension
    static final GuestSession session = GuestSession.register("snapshots-guest", Duration.ofSeconds(60));

    @Test
    void aRevertWithMemoryBringsBackTheDiskAndTheGuestsMemoryAndTheGuestRunsOnWithoutABoot() throws Exception {
        session.manager().create(session.guestSpec("mem"));
        VmConsole console = session.boot("mem");
        session.writeMark(console, "/dev/vda", "MARK-ONE");
        assertThat(session.answer(console, "echo KEEP-4711 > /tmp/value; cat /tmp/value")).isEqualTo("KEEP-4711");
        double uptimeAtSnapshot = Double.parseDouble(session.answer(console, "cut -d' ' -f1 /proc/uptime"));

        Snapshot one = session.manager().snapshot("mem", "one");
        assertThat(one.withMemory()).isTrue();
        session.writeMark(console, "/dev/vda", "MARK-TWO");
        assertThat(session.answer(console, "echo CHANGED > /tmp/value; cat /tmp/value")).isEqualTo("CHANGED");
        int before = console.output().length();

        assertThat(session.manager().revert("mem", "one").status()).isEqualTo(VmStatus.RUNNING);

        assertThat(session.answer(console, "cat /tmp/value")).as("the value kept only in the guest's memory; console:\n%s",
                console.output()).isEqualTo("KEEP-4711");
        assertThat(session.readMark(console, "/dev/vda"))
                .as("the disk as the guest sees it").isEqualTo("MARK-ONE");
        assertThat(Double.parseDouble(session.answer(console, "cut -d' ' -f1 /proc/uptime")))
                .as("the guest's clock runs on from the snapshot").isGreaterThanOrEqualTo(uptimeAtSnapshot);
        String after = console.output().substring(Math.min(before, console.output().length()));
        assertThat(after).as("no second boot on the console").doesNotContain("Linux version")
                .doesNotContain(session.guest().readyLine());
        session.stop("mem");
        assertThat(session.markOnHost("mem", "mem-1.raw")).as("the disk on the host").isEqualTo("MARK-ONE");
    }

    @Test
    void aTreeWithABranchKeepsTheRightDiskContentAtEverySnapshotAfterAMiddleOneIsDeleted() throws Exception {
        session.manager().create(session.guestSpec("tree"));
        VmConsole console = session.boot("tree");
        session.writeMark(console, "/dev/vda", "STATE-AA");
        session.manager().snapshot("tree", "a", SnapshotMode.DISKS_ONLY);
        session.writeMark(console, "/dev/vda", "STATE-BB");
        session.manager().snapshot("tree", "b", SnapshotMode.DISKS_ONLY);
        session.writeMark(console, "/dev/vda", "STATE-CC");
        session.manager().snapshot("tree", "c", SnapshotMode.DISKS_ONLY);

        assertThat(session.manager().revert("tree", "b").status()).as("a disk-only revert stops the VM").isEqualTo(VmStatus.STOPPED);
        assertThat(session.markOnHost("tree", "tree-b.raw")).as("the disk marker came back").isEqualTo("STATE-BB");
        console = session.boot("tree");
        assertThat(session.readMark(console, "/dev/vda"))
                .as("the guest, booted again, reads the reverted disk").isEqualTo("STATE-BB");
        session.writeMark(console, "/dev/vda", "STATE-DD");
        assertThat(session.manager().snapshot("tree", "d", SnapshotMode.DISKS_ONLY).parent()).as("a branch from b").contains("b");
        session.stop("tree");

        session.manager().deleteSnapshot("tree", "b");

        assertThat(session.manager().snapshots("tree")).extracting(s -> s.name() + "<" + s.parent().orElse(""))
                .containsExactly("a<", "c<a", "d<a");
        for (String[] expected : new String[][] {{"a", "STATE-AA"}, {"c", "STATE-CC"}, {"d", "STATE-DD"}}) {
            session.manager().revert("tree", expected[0]);
            assertThat(session.markOnHost("tree", "tree-" + expected[0] + ".raw")).as("at snapshot " + expected[0])
                    .isEqualTo(expected[1]);
        }
        assertThat(session.driver().qemuImg().snapshotNames(session.disk("tree"))).containsExactlyInAnyOrder("a", "c", "d");
    }

}
