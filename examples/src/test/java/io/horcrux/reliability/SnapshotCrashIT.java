package io.horcrux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.horcrux.VmManager;
import io.horcrux.internal.FaultPoint;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Snapshot;
import io.horcrux.model.SnapshotMode;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.testkit.ChildJvm;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 14, crash recovery of snapshot operations: a child JVM ({@link SnapshotChild}) with a
 * manager on SQLite and real QEMU begins a snapshot, a revert or a delete and dies at a chosen
 * step ({@link FaultPoint}: halted as by {@code kill -9}, between the driver's action on the
 * images and the inventory's record, between the disks of a stopped VM, or while QEMU runs the
 * job). Its QEMU processes live on. A fresh manager then opens the same data directory and the
 * test checks that:
 * <ul>
 *   <li>every qcow2 disk holds exactly the snapshots of the inventory's tree, read independently
 *       with {@code qemu-img info -U} (and as the driver sees it), with the right current point;</li>
 *   <li>a snapshot cut off before every disk held it is gone cleanly (its name is free again), one
 *       that every disk held is recorded, a revert is finished, a delete is finished;</li>
 *   <li>a VM that was running runs on, reattached, in the status QEMU reports, and the snapshot
 *       it took can be reverted to;</li>
 *   <li>each settled operation is counted as {@code snapshotRecovery} with its outcome, and the
 *       journal is empty.</li>
 * </ul>
 * Six child runs in all.
 */
class SnapshotCrashIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private Path data;

    @AfterEach
    void cleanUp() throws IOException {
        if (data == null) {
            return;
        }
        QemuProcesses.killAll(data);
        ReliabilityDirectories.delete(data);
    }

    /** A manager on the data directory, with a registry to count its recoveries. */
    private record Opened(VmManager vms, QemuDriver driver, SimpleMeterRegistry registry) implements AutoCloseable {
        double recovered(String outcome) {
            var timer = registry.find("horcrux.vm.operation").tags("operation", "snapshotRecovery", "outcome", outcome)
                    .timer();
            return timer == null ? 0 : timer.count();
        }

        @Override
        public void close() {
            vms.close();
        }
    }

    private Opened open() {
        QemuDriver driver = ManagerChild.driver(data);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        return new Opened(VmManager.builder().store(ManagerChild.store(data)).driver(driver).meterRegistry(registry)
                .build(), driver, registry);
    }

    @Test
    void snapshotOperationsCutOffByAKillAreFinishedOrRolledBackWhenAManagerNextOpens() throws Exception {
        data = ReliabilityDirectories.create("snapcrash");
        try (Opened o = open()) {
            o.vms().create(VmSpec.builder().id("cold").memoryMiB(64).cpus(1).disk(DiskSpec.qcow2("root", 16L << 20))
                    .disk(DiskSpec.qcow2("data", 8L << 20)).build());
            o.vms().create(ManagerChild.spec("hot"));
            o.vms().start("hot");
        }

        // A stopped VM's snapshot cut off after its first disk: rolled back, the name free again.
        killedAt("qemu.offline-snapshot.first-disk", "snapshot", "cold", "s1");
        try (Opened o = open()) {
            assertThat(o.recovered("rolled-back")).isEqualTo(1);
            assertThat(tree(o, "cold")).isEmpty();
            agree(o, "cold");
            assertThat(o.vms().snapshot("cold", "s1").current()).isTrue();
            agree(o, "cold");
        }

        // Cut off after the images, before the inventory: rolled forward, a child of s1.
        killedAt("snapshot.after-driver", "snapshot", "cold", "s2");
        try (Opened o = open()) {
            assertThat(o.recovered("rolled-forward")).isEqualTo(1);
            assertThat(tree(o, "cold")).containsExactly("s1<", "s2<s1*");
            agree(o, "cold");
        }

        // A revert cut off after the images: finished, s1 current.
        killedAt("revert.after-driver", "revert", "cold", "s1");
        try (Opened o = open()) {
            assertThat(o.recovered("rolled-forward")).isEqualTo(1);
            assertThat(tree(o, "cold")).containsExactly("s1<*", "s2<s1");
            agree(o, "cold");
        }

        // A running VM's snapshot with memory, the process killed while QEMU saves: QEMU finishes
        // the job, the next manager waits for it and records the snapshot.
        killedAt("qemu.snapshot-save.started", "snapshot", "hot", "m1");
        try (Opened o = open()) {
            assertThat(o.recovered("rolled-forward")).isEqualTo(1);
            assertRunning(o, "hot");
            assertThat(tree(o, "hot")).containsExactly("m1<*");
            assertThat(o.vms().snapshots("hot").get(0).withMemory()).isTrue();
            agree(o, "hot");
            o.vms().snapshot("hot", "m2", SnapshotMode.DISKS_ONLY);
            agree(o, "hot");
        }

        // A revert with memory killed while QEMU loads: finished, the VM running at m1.
        killedAt("qemu.snapshot-load.started", "revert", "hot", "m1");
        try (Opened o = open()) {
            assertThat(o.recovered("rolled-forward")).isEqualTo(1);
            assertRunning(o, "hot");
            assertThat(tree(o, "hot")).containsExactly("m1<*", "m2<m1");
            agree(o, "hot");
        }

        // A delete killed while QEMU deletes: finished, m2 a root now.
        killedAt("qemu.snapshot-delete.started", "delete", "hot", "m1");
        try (Opened o = open()) {
            assertThat(o.recovered("rolled-forward")).isEqualTo(1);
            assertRunning(o, "hot");
            assertThat(tree(o, "hot")).containsExactly("m2<");
            agree(o, "hot");
            // What is left can be used.
            assertThat(o.vms().revert("hot", "m2").status()).isEqualTo(VmStatus.STOPPED);
            assertThat(o.vms().revert("cold", "s2").status()).isEqualTo(VmStatus.STOPPED);
            agree(o, "hot");
            agree(o, "cold");
        }
        assertThat(journalRows()).as("the snapshot journal after recovery").isZero();
    }

    /** Runs one operation in a child that dies at {@code step}; fails if it returned or died elsewhere. */
    private void killedAt(String step, String operation, String vmId, String name) throws Exception {
        try (ChildJvm child = ChildJvm.start(data, SnapshotChild.class, "128m", data.toString(), step, operation, vmId,
                name)) {
            List<String> lines = child.remainingLines();
            int exit = child.waitFor();
            assertThat(lines).as("%s %s %s at %s; stderr:%n%s", operation, vmId, name, step, child.stderr())
                    .containsExactly("OPEN");
            assertThat(exit).as("the exit of a child halted at %s", step).isEqualTo(FaultPoint.EXIT_STATUS);
        }
    }

    /** The tree as "name&lt;parent" with "*" for the current one, oldest first. */
    private static List<String> tree(Opened o, String vmId) {
        return o.vms().snapshots(vmId).stream().map(s -> s.name() + "<" + s.parent().orElse("") + (s.current() ? "*" : ""))
                .toList();
    }

    private void assertRunning(Opened o, String vmId) {
        assertThat(o.vms().get(vmId).status()).as("status of %s", vmId).isEqualTo(VmStatus.RUNNING);
        assertThat(o.driver().status(vmId)).as("QMP status of %s", vmId).isEqualTo(VmStatus.RUNNING);
        assertThat(QemuProcesses.under(data).values()).as("QEMU of %s", vmId).containsOnlyOnce(vmId);
    }

    /** Every disk's snapshots, read by qemu-img and by the driver, are the inventory's tree. */
    private void agree(Opened o, String vmId) throws Exception {
        Vm vm = o.vms().get(vmId);
        Set<String> tree = o.vms().snapshots(vmId).stream().map(Snapshot::name).collect(Collectors.toCollection(TreeSet::new));
        assertThat(o.vms().snapshots(vmId).stream().filter(Snapshot::current).count()).isLessThanOrEqualTo(1);
        Map<String, Set<String>> seen = o.driver().snapshotNames(vm);
        for (DiskSpec disk : vm.spec().disks()) {
            Path image = data.resolve("vms").resolve(vmId).resolve(disk.name() + ".qcow2");
            assertThat(imageSnapshots(image)).as("qemu-img: snapshots in %s", image).isEqualTo(tree);
            assertThat(seen.get(disk.name())).as("driver: snapshots in disk %s of %s", disk.name(), vmId)
                    .containsExactlyInAnyOrderElementsOf(tree);
        }
    }

    /** {@code qemu-img info -U}: the image's internal snapshots, also while QEMU has it open. */
    private static Set<String> imageSnapshots(Path image) throws Exception {
        Process p = new ProcessBuilder("qemu-img", "info", "-U", "--output=json", image.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("qemu-img info %s: %s", image, out).isZero();
        Set<String> names = new TreeSet<>();
        for (JsonNode s : JSON.readTree(out).path("snapshots")) {
            names.add(s.path("name").asText());
        }
        return names;
    }

    private long journalRows() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + data.resolve("horcrux.db"));
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM vm_snapshot_intents")) {
            rs.next();
            return rs.getLong(1);
        }
    }

}
