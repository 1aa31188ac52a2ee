package io.horcrux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.testkit.ChildJvm;
import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.qemu.QemuDriver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue item 1, crashes of our own process: a child JVM ({@link ManagerChild}) runs a
 * {@code VmManager} on SQLite and real QEMU, creating, starting, pausing, resuming, stopping and
 * deleting VMs, and is killed with SIGKILL at a random point, {@value #DEFAULT_KILLS} times by
 * default ({@code -Dhorcrux.reliability.kills=N} for more). Its QEMU processes live on. After
 * each kill a new manager opens the same data directory, and:
 * <ul>
 *   <li>the database passes {@code PRAGMA integrity_check};</li>
 *   <li>every VM whose create returned is there with its disk, every VM whose delete returned is
 *       gone, a batch create in flight is wholly there or wholly absent;</li>
 *   <li>every VM's status is the one its last returned call left, or for the call in flight,
 *       the status before or after it; none is left STARTING or STOPPING;</li>
 *   <li>every RUNNING or PAUSED VM has a live QEMU that answers {@code query-status} with that
 *       status (it was reattached), every other VM has no QEMU process;</li>
 *   <li>no QEMU process under the data directory is unknown to the inventory.</li>
 * </ul>
 */
class ManagerCrashIT {
    private static final Logger log = LoggerFactory.getLogger(ManagerCrashIT.class);
    static final int DEFAULT_KILLS = 25;
    private static final int KILLS = Integer.getInteger("horcrux.reliability.kills", DEFAULT_KILLS);
    private static final Set<VmStatus> ACTIVE = EnumSet.of(VmStatus.RUNNING, VmStatus.PAUSED);

    private Path data;

    @AfterEach
    void cleanUp() throws IOException {
        if (data == null) {
            return;
        }
        QemuProcesses.killAll(data);
        ReliabilityDirectories.delete(data);
    }

    @Test
    void killedManagersLoseNoAcknowledgedOperationAndLeaveNoUnknownQemu() throws Exception {
        data = ReliabilityDirectories.create("crash");
        long seed = Long.getLong("horcrux.reliability.seed", System.nanoTime());
        Random random = new Random(seed);
        log.info("seed {} for {} kills under {}", seed, KILLS, data);

        Map<String, VmStatus> expected = new HashMap<>(); // what the last acknowledged call left
        Set<String> deleted = new HashSet<>();
        Set<String> acknowledgedCreates = new HashSet<>();
        int operations = 0;
        int killedInFlight = 0;
        int reattached = 0;
        long orphansRemoved = 0;
        for (int kill = 0; kill < KILLS; kill++) {
            String[] inFlight = null; // op, ids
            Set<String> uncertain = new HashSet<>();
            try (ChildJvm child = ChildJvm.start(data, ManagerChild.class, "96m", data.toString(),
                    Integer.toString(kill), Long.toString(random.nextLong()))) {
                List<String> lines = new ArrayList<>();
                boolean early = random.nextInt(6) == 0;
                if (early) {
                    // Kill while the child starts or reattaches.
                    LockSupport.parkNanos(Duration.ofMillis(300 + random.nextInt(1200)).toNanos());
                } else {
                    int begins = 1 + random.nextInt(6);
                    String line;
                    while ((line = child.readLine()) != null) {
                        lines.add(line);
                        if (line.startsWith("BEGIN ") && --begins == 0) {
                            LockSupport.parkNanos(Duration.ofMillis(random.nextInt(250)).toNanos());
                            break;
                        }
                    }
                    assertThat(line).as("child ended early; stderr: %s", child.stderr()).isNotNull();
                }
                child.kill();
                lines.addAll(child.remainingLines());
                for (String line : lines) {
                    String[] f = line.split(" ", 4);
                    switch (f[0]) {
                        case "BEGIN" -> inFlight = new String[] {f[1], f[2]};
                        case "ACK" -> {
                            inFlight = null;
                            operations++;
                            acknowledge(f[1], f[2], expected, deleted);
                            if (f[1].equals("create") || f[1].equals("batch")) {
                                acknowledgedCreates.addAll(List.of(f[2].split(",")));
                            }
                        }
                        case "FAIL" -> {
                            inFlight = null;
                            operations++;
                            uncertain.addAll(List.of(f[2].split(",")));
                            log.info("kill {}: {}", kill, line);
                        }
                        default -> { }
                    }
                }
            }
            if (inFlight != null) {
                killedInFlight++;
            }
            String context = "kill " + kill + " (seed " + seed + ", in flight " + (inFlight == null ? "nothing"
                    : String.join(" ", inFlight)) + ")";

            assertThat(integrityCheck(data.resolve("horcrux.db"))).as("integrity, %s", context).isEqualTo("ok");
            Set<String> directoriesBefore = vmDirectories();
            try (QemuDriver driver = ManagerChild.driver(data);
                 VmManager vms = VmManager.builder().store(ManagerChild.store(data)).driver(driver).build()) {
                Map<String, Vm> inventory;
                try (Stream<Vm> all = vms.stream(VmQuery.all())) {
                    inventory = all.collect(Collectors.toMap(Vm::id, Function.identity()));
                }
                Set<String> inFlightIds = inFlight == null ? Set.of() : Set.of(inFlight[1].split(","));
                for (Map.Entry<String, VmStatus> e : expected.entrySet()) {
                    String id = e.getKey();
                    if (inFlightIds.contains(id) || uncertain.contains(id)) {
                        continue;
                    }
                    assertThat(inventory).as("acknowledged VM %s, %s", id, context).containsKey(id);
                    assertThat(inventory.get(id).status()).as("status of %s, %s", id, context).isEqualTo(e.getValue());
                }
                assertThat(deleted).as("deleted VMs still in the inventory, %s", context).noneMatch(inventory::containsKey);
                acknowledgedCreates.removeAll(deleted);
                for (String id : acknowledgedCreates) {
                    if (inFlightIds.contains(id) || uncertain.contains(id)) {
                        continue; // a delete in flight may have taken the VM and its disk
                    }
                    assertThat(data.resolve("vms").resolve(id).resolve("root.qcow2"))
                            .as("disk of acknowledged VM %s, %s", id, context).isRegularFile();
                }
                if (inFlight != null) {
                    checkInFlight(inFlight[0], inFlightIds, expected, inventory, context);
                }
                Map<Long, String> processes = settledProcesses(inventory);
                for (Vm vm : inventory.values()) {
                    assertThat(vm.status()).as("%s, %s", vm.id(), context)
                            .isIn(VmStatus.STOPPED, VmStatus.RUNNING, VmStatus.PAUSED);
                    List<Long> pids = processes.entrySet().stream().filter(p -> p.getValue().equals(vm.id()))
                            .map(Map.Entry::getKey).toList();
                    if (ACTIVE.contains(vm.status())) {
                        reattached++;
                        assertThat(driver.status(vm.id())).as("QMP status of %s, %s", vm.id(), context)
                                .isEqualTo(vm.status());
                        assertThat(pids).as("QEMU of %s, %s", vm.id(), context).hasSize(1);
                        // Also for a VM reattached from STARTING, whose row had no runtime yet.
                        assertThat(vm.runtimeInfo()).as("runtime of %s, %s", vm.id(), context).isPresent();
                        assertThat(pids).as("pid of %s, %s", vm.id(), context)
                                .containsExactly(vm.runtimeInfo().get().pid());
                    } else {
                        assertThat(pids).as("QEMU of stopped %s, %s", vm.id(), context).isEmpty();
                    }
                }
                assertThat(inventory.keySet()).as("VMs of the QEMU processes, %s", context)
                        .containsAll(processes.values());
                // A create cut off after its disks, or a delete after its row, left a directory
                // without a row; the manager removed it when it opened.
                assertThat(vmDirectories()).as("VM directories without an inventory row, %s", context)
                        .isSubsetOf(inventory.keySet());
                orphansRemoved += directoriesBefore.stream().filter(id -> !inventory.containsKey(id)).count();
                // Disks are made before the row and removed after it: no row ever lacks its disks.
                assertThat(rowsWithoutDisks(inventory.keySet())).as("rows without disks, %s", context).isZero();
                // The model continues from what this manager sees: a create or delete cut off in
                // flight settled one way or the other, and later kills judge from there.
                expected.clear();
                inventory.values().forEach(vm -> expected.put(vm.id(), vm.status()));
                acknowledgedCreates.retainAll(inventory.keySet());
            }
        }
        log.info("{} kills survived ({} in the middle of a call), {} acknowledged operations, {} reattachments,"
                + " nothing lost; {} VM directories of cut-off creates or deletes removed on opening (seed {})",
                KILLS, killedInFlight, operations, reattached, orphansRemoved, seed);
        assertThat(operations).as("operations acknowledged").isPositive();
        assertThat(killedInFlight).as("kills in the middle of a call").isPositive();

        try (QemuDriver driver = ManagerChild.driver(data);
             VmManager vms = VmManager.builder().store(ManagerChild.store(data)).driver(driver).build()) {
            List<String> ids;
            try (Stream<Vm> all = vms.stream(VmQuery.all())) {
                ids = all.filter(vm -> vm.status().isActive()).map(Vm::id).toList();
            }
            ids.forEach(id -> vms.stop(id, Duration.ZERO));
        }
        assertThat(QemuProcesses.under(data)).as("QEMU left after stopping all").isEmpty();
    }

    private static void acknowledge(String op, String ids, Map<String, VmStatus> expected, Set<String> deleted) {
        for (String id : ids.split(",")) {
            switch (op) {
                case "create", "batch", "stop" -> expected.put(id, VmStatus.STOPPED);
                case "start", "resume" -> expected.put(id, VmStatus.RUNNING);
                case "pause" -> expected.put(id, VmStatus.PAUSED);
                case "delete" -> {
                    expected.remove(id);
                    deleted.add(id);
                }
                default -> throw new AssertionError("unknown operation " + op);
            }
        }
    }

    /** The call that was cut off left its VMs as they were before it, or as it would have. */
    private static void checkInFlight(String op, Set<String> ids, Map<String, VmStatus> expected,
                                      Map<String, Vm> inventory, String context) {
        if (op.equals("create") || op.equals("batch")) {
            long present = ids.stream().filter(inventory::containsKey).count();
            assertThat(present).as("VMs of the create in flight present, %s", context).isIn(0L, (long) ids.size());
            ids.stream().filter(inventory::containsKey).forEach(id ->
                    assertThat(inventory.get(id).status()).as("%s, %s", id, context).isEqualTo(VmStatus.STOPPED));
            return;
        }
        String id = ids.iterator().next();
        VmStatus before = expected.get(id);
        if (op.equals("delete")) {
            if (inventory.containsKey(id)) {
                assertThat(inventory.get(id).status()).as("%s, %s", id, context).isEqualTo(before);
            }
            return;
        }
        VmStatus after = switch (op) {
            case "start", "resume" -> VmStatus.RUNNING;
            case "stop" -> VmStatus.STOPPED;
            case "pause" -> VmStatus.PAUSED;
            default -> throw new AssertionError("unknown operation " + op);
        };
        assertThat(inventory).as("VM of the call in flight, %s", context).containsKey(id);
        if (before != null) {
            assertThat(inventory.get(id).status()).as("%s, %s", id, context).isIn(before, after);
        }
    }

    /**
     * The QEMU processes under the data directory once they agree with the inventory, or after
     * 15 s. A start cut off by the kill may leave QEMU's launcher (the {@code -daemonize} parent)
     * alive for a moment after the daemon it forked was reattached; it exits on its own once the
     * daemon reports that it is up.
     */
    private Map<Long, String> settledProcesses(Map<String, Vm> inventory) {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (true) {
            Map<Long, String> processes = QemuProcesses.under(data);
            boolean agrees = inventory.keySet().containsAll(processes.values()) && inventory.values().stream()
                    .allMatch(vm -> processes.values().stream().filter(vm.id()::equals).count()
                            == (ACTIVE.contains(vm.status()) ? 1 : 0));
            if (agrees || System.nanoTime() - deadline > 0) {
                return processes;
            }
            LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
        }
    }

    /** The names of the VM directories under the state directory. */
    private Set<String> vmDirectories() throws IOException {
        if (!Files.isDirectory(data.resolve("vms"))) {
            return Set.of(); // the first child died before its driver made it
        }
        try (Stream<Path> dirs = Files.list(data.resolve("vms"))) {
            // Names that are no VM id (the accelerator probe's .probe) are the driver's own, not a VM's.
            return dirs.filter(Files::isDirectory).map(d -> d.getFileName().toString())
                    .filter(VmSpec::isValidId).collect(Collectors.toSet());
        }
    }

    /**
     * Inventory rows whose VM has no disk image: what a create cut off between inserting the row
     * and provisioning the disks leaves (the manager inserts first). Never an acknowledged create
     * (checked above: those are all there and were provisioned before the call returned); such a
     * VM fails to start with "not provisioned" and can be deleted. Counted, not failed.
     */
    private long rowsWithoutDisks(Set<String> ids) {
        return ids.stream().filter(id -> !Files.exists(data.resolve("vms").resolve(id).resolve("root.qcow2"))).count();
    }

    static String integrityCheck(Path db) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("PRAGMA integrity_check")) {
            StringBuilder result = new StringBuilder();
            while (rs.next()) {
                result.append(result.length() == 0 ? "" : "\n").append(rs.getString(1));
            }
            return result.toString();
        }
    }
}
