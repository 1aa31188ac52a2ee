package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.horcrux.DriverException;
import io.horcrux.internal.FaultPoint;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Snapshot;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The QEMU driver's snapshots: internal qcow2 snapshots, in the VM's own disk images.
 *
 * <p>Why internal snapshots rather than external overlays plus a migration stream: an internal
 * snapshot is a tag inside each qcow2 image, so a snapshot adds no file, a revert changes no
 * backing chain (the command line of the next start stays the same), deleting one in the middle
 * of a tree needs no block-commit or rebase, and a branch is just another tag; with memory,
 * QEMU 7.2's {@code snapshot-save}/{@code snapshot-load} jobs write and read the vmstate inside
 * one of the disks and resume the guest where it was, with nothing outside the images for a
 * crash to leave half-written. External overlays would make every snapshot a new file the
 * spec's disks must follow, and a tree a graph of backing files to rebase on each delete.
 *
 * <p>Of a stopped VM, {@code qemu-img snapshot -c/-a/-d} runs on each disk, all or none (what was
 * done to the disks before a failure is undone). Of a running or paused VM: with memory, the
 * {@code snapshot-save}, {@code snapshot-load} and {@code snapshot-delete} jobs (vmstate in the
 * first snapshot disk), waited for through {@code query-jobs} until concluded, then dismissed;
 * disk-only, one QMP {@code transaction} of {@code blockdev-snapshot-internal-sync}, so all disks
 * are taken at one instant.
 *
 * <p>What the images hold ({@link #namesOffline}, {@link #namesLive}) is how the manager, opening
 * after a crash, sees how far a snapshot operation got. A job the killed manager started runs on
 * in QEMU (it is QEMU's, not ours): {@link #namesLive} first waits for every job of ours to
 * conclude and dismisses it, so the answer is final. A job that QEMU dies in leaves the images as
 * QEMU left them, and the manager settles from what they hold.
 */
final class QemuSnapshots {
    private static final Logger log = LoggerFactory.getLogger(QemuDriver.class);
    private static final Duration JOB_TIMEOUT = Duration.ofMinutes(10);
    private static final String UNDO_PREFIX = "horcrux-undo-";

    private final QemuImg qemuImg;
    private final AtomicLong jobs = new AtomicLong();

    QemuSnapshots(QemuImg qemuImg) {
        this.qemuImg = qemuImg;
    }

    /** The disks a snapshot covers, by their node names, in spec order: neither read-only nor CD-ROMs. */
    static Map<String, DiskSpec> snapshotDisks(VmSpec spec) {
        Map<String, DiskSpec> disks = new LinkedHashMap<>();
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskSpec disk = spec.disks().get(i);
            if (!disk.readOnly() && disk.kind() != DiskKind.CDROM) {
                disks.put("disk" + i, disk);
            }
        }
        if (disks.isEmpty()) {
            throw new DriverException("VM '" + spec.id() + "' has no writable disk to hold a snapshot");
        }
        return disks;
    }

    // ---------------------------------------------------------------- a stopped VM: qemu-img

    void takeOffline(VmSpec spec, VmFiles files, String tag) {
        List<Path> images = images(spec, files);
        for (Path image : images) {
            if (qemuImg.snapshotNames(image).contains(tag)) {
                throw new DriverException("VM '" + spec.id() + "': disk image " + image.getFileName()
                        + " already holds a snapshot '" + tag + "'");
            }
        }
        List<Path> done = new ArrayList<>();
        try {
            for (Path image : images) {
                qemuImg.snapshot('c', image, tag);
                done.add(image);
                if (done.size() == 1 && images.size() > 1) {
                    FaultPoint.reach("qemu.offline-snapshot.first-disk");
                }
            }
        } catch (RuntimeException e) {
            undo(done, 'd', tag, e);
            throw e;
        }
    }

    void revertOffline(VmSpec spec, VmFiles files, String tag) {
        List<Path> images = images(spec, files);
        for (Path image : images) {
            if (!qemuImg.snapshotNames(image).contains(tag)) {
                throw new DriverException("VM '" + spec.id() + "': disk image " + image.getFileName()
                        + " holds no snapshot '" + tag + "'");
            }
        }
        // Each disk first keeps its present content under an undo tag, so a failure on one disk
        // can bring the others back to where they were.
        String undoTag = UNDO_PREFIX + Long.toString(System.nanoTime(), 36);
        List<Path> kept = new ArrayList<>();
        List<Path> applied = new ArrayList<>();
        try {
            for (Path image : images) {
                qemuImg.snapshot('c', image, undoTag);
                kept.add(image);
            }
            for (Path image : images) {
                qemuImg.snapshot('a', image, tag);
                applied.add(image);
            }
        } catch (RuntimeException e) {
            undo(applied, 'a', undoTag, e);
            undo(kept, 'd', undoTag, e);
            throw e;
        }
        undo(kept, 'd', undoTag, null);
    }

    void deleteOffline(VmSpec spec, VmFiles files, String tag) {
        for (Path image : images(spec, files)) {
            if (qemuImg.snapshotNames(image).contains(tag)) {
                qemuImg.snapshot('d', image, tag);
            }
        }
    }

    /** Each snapshot disk's name to the snapshots its image holds, of a VM no process has open. */
    Map<String, Set<String>> namesOffline(VmSpec spec, VmFiles files) {
        Map<String, Set<String>> names = new LinkedHashMap<>();
        for (DiskSpec disk : snapshotDisks(spec).values()) {
            names.put(disk.name(), Set.copyOf(qemuImg.snapshotNames(files.disk(disk))));
        }
        return java.util.Collections.unmodifiableMap(names);
    }

    /**
     * Each snapshot disk's name to the snapshots QEMU sees in it ({@code query-named-block-nodes}),
     * after every snapshot job of ours in the process has concluded (and been dismissed).
     */
    Map<String, Set<String>> namesLive(Vm vm, QmpClient qmp) {
        settleJobs(vm.id(), qmp);
        Map<String, DiskSpec> disks = snapshotDisks(vm.spec());
        Map<String, Set<String>> byNode = new LinkedHashMap<>();
        for (JsonNode node : qmp.execute("query-named-block-nodes", Map.of("flat", true))) {
            String nodeName = node.path("node-name").asText();
            if (disks.containsKey(nodeName)) {
                Set<String> names = new TreeSet<>();
                node.path("image").path("snapshots").forEach(sn -> names.add(sn.path("name").asText()));
                byNode.put(nodeName, Set.copyOf(names));
            }
        }
        Map<String, Set<String>> names = new LinkedHashMap<>();
        disks.forEach((nodeName, disk) -> {
            Set<String> held = byNode.get(nodeName);
            if (held == null) {
                throw new DriverException("VM '" + vm.id() + "': QEMU has no block node " + nodeName + " for disk '"
                        + disk.name() + "'");
            }
            names.put(disk.name(), held);
        });
        return java.util.Collections.unmodifiableMap(names);
    }

    /** Waits for every job of ours (one a killed manager started) to conclude, and dismisses it. */
    private void settleJobs(String vmId, QmpClient qmp) {
        long deadline = System.nanoTime() + JOB_TIMEOUT.toNanos();
        while (true) {
            boolean running = false;
            for (JsonNode job : qmp.execute("query-jobs")) {
                String id = job.path("id").asText();
                if (!id.startsWith("horcrux-")) {
                    continue;
                }
                if ("concluded".equals(job.path("status").asText())) {
                    qmp.execute("job-dismiss", Map.of("id", id));
                    log.info("VM {}: job {} had {} while no manager watched", vmId, id,
                            job.hasNonNull("error") ? "failed (" + job.path("error").asText() + ")" : "concluded");
                } else {
                    running = true;
                }
            }
            if (!running) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new DriverException("VM '" + vmId + "': a snapshot job did not end within "
                        + JOB_TIMEOUT.toMinutes() + " min");
            }
            pause(vmId, "a snapshot job");
        }
    }

    private static void pause(String vmId, String what) {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("VM '" + vmId + "': interrupted while waiting for " + what, e);
        }
    }

    private static List<Path> images(VmSpec spec, VmFiles files) {
        return snapshotDisks(spec).values().stream().map(files::disk).toList();
    }

    private void undo(List<Path> images, char action, String tag, RuntimeException failure) {
        for (Path image : images) {
            try {
                qemuImg.snapshot(action, image, tag);
            } catch (RuntimeException e) {
                if (failure != null) {
                    failure.addSuppressed(e);
                } else {
                    log.warn("could not remove snapshot {} from {}", tag, image, e);
                }
            }
        }
    }

    // ---------------------------------------------------------------- a running or paused VM: QMP

    void takeLive(Vm vm, QmpClient qmp, String tag, boolean withMemory) {
        List<String> devices = List.copyOf(snapshotDisks(vm.spec()).keySet());
        if (withMemory) {
            runJob(vm.id(), qmp, "snapshot-save", Map.of("tag", tag, "vmstate", devices.get(0), "devices", devices));
            return;
        }
        List<Map<String, Object>> actions = new ArrayList<>();
        for (String device : devices) {
            actions.add(Map.of("type", "blockdev-snapshot-internal-sync", "data", Map.of("device", device, "name", tag)));
        }
        // A transaction is all or none across its actions.
        qmp.execute("transaction", Map.of("actions", actions), JOB_TIMEOUT);
    }

    /** Loads a snapshot with memory into the running process; returns the status it is left in. */
    VmStatus revertLive(Vm vm, QmpClient qmp, Snapshot snapshot) {
        List<String> devices = List.copyOf(snapshotDisks(vm.spec()).keySet());
        runJob(vm.id(), qmp, "snapshot-load", Map.of("tag", snapshot.name(), "vmstate", devices.get(0),
                "devices", devices));
        boolean running = qmp.execute("query-status").path("running").asBoolean();
        if (snapshot.takenWhile() == VmStatus.PAUSED && running) {
            qmp.execute("stop");
        } else if (snapshot.takenWhile() == VmStatus.RUNNING && !running) {
            qmp.execute("cont");
        }
        return snapshot.takenWhile();
    }

    void deleteLive(Vm vm, QmpClient qmp, String tag) {
        List<String> devices = List.copyOf(snapshotDisks(vm.spec()).keySet());
        runJob(vm.id(), qmp, "snapshot-delete", Map.of("tag", tag, "devices", devices));
    }

    /**
     * Starts a job and waits until it has concluded, then dismisses it.
     *
     * @throws DriverException with the job's error if it failed, or if it did not end in time
     */
    private void runJob(String vmId, QmpClient qmp, String command, Map<String, Object> arguments) {
        String jobId = "horcrux-" + command + "-" + jobs.incrementAndGet();
        Map<String, Object> withId = new LinkedHashMap<>(arguments);
        withId.put("job-id", jobId);
        long started = System.nanoTime();
        qmp.execute(command, withId);
        FaultPoint.reach("qemu." + command + ".started");
        long deadline = started + JOB_TIMEOUT.toNanos();
        while (true) {
            JsonNode job = find(qmp.execute("query-jobs"), jobId);
            if (job == null) {
                throw new DriverException("VM '" + vmId + "': " + command + " job " + jobId + " vanished");
            }
            if ("concluded".equals(job.path("status").asText())) {
                qmp.execute("job-dismiss", Map.of("id", jobId));
                if (job.hasNonNull("error")) {
                    throw new DriverException("VM '" + vmId + "': " + command + " '" + arguments.get("tag")
                            + "' failed: " + job.path("error").asText());
                }
                log.debug("VM {}: {} {} in {} ms", vmId, command, arguments.get("tag"),
                        (System.nanoTime() - started) / 1_000_000);
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new DriverException("VM '" + vmId + "': " + command + " did not end within "
                        + JOB_TIMEOUT.toMinutes() + " min (job " + jobId + " is " + job.path("status").asText() + ")");
            }
            pause(vmId, command);
        }
    }

    private static JsonNode find(JsonNode jobs, String id) {
        for (JsonNode job : jobs) {
            if (id.equals(job.path("id").asText())) {
                return job;
            }
        }
        return null;
    }
}
