package io.horcrux;

import io.horcrux.model.Snapshot;
import io.horcrux.model.Vm;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.SnapshotIntent;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery when a manager opens, after the driver has reattached to the VMs still running:
 * finishes or rolls back each snapshot operation a crash of the process cut off, found in the
 * store's journal ({@link SnapshotIntent}), so that the images and the inventory agree again: every
 * snapshot disk holds exactly the snapshots of the VM's tree, and the current point is right.
 * What the images hold is asked of the driver ({@link VmDriver#snapshotNames}); a snapshot job
 * the killed process left running in QEMU is waited for there.
 *
 * <ul>
 *   <li><strong>A snapshot</strong> that every disk holds is rolled forward (recorded, current);
 *       one that only some or none hold is rolled back (removed from those that hold it).</li>
 *   <li><strong>A revert</strong> is rolled forward: the driver reverts again (reverting twice to
 *       one snapshot is reverting once) and the snapshot becomes current. With memory, the VM must
 *       still run; if its process died with the manager, the disks alone are reverted and the VM
 *       stays stopped. A disk-only revert of a VM that runs never began (the driver reverts disks
 *       only of a stopped VM, and nothing starts it in between): it is rolled back.</li>
 *   <li><strong>A delete</strong> is rolled forward: gone from the disks and the tree.</li>
 * </ul>
 *
 * Then any snapshot a disk holds that the tree does not (an undo tag a killed revert left) is
 * removed. Each action is logged with the VM id and counted as the operation
 * {@code snapshotRecovery} with its outcome ({@code rolled-forward}, {@code rolled-back}, or the
 * exception's name); an entry that cannot be settled is left in the journal for the next open,
 * and the manager opens anyway. Only the VM's owner settles it.
 */
final class SnapshotRecovery {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);
    static final String OPERATION = "snapshotRecovery";

    private final VmStore store;
    private final VmDriver driver;
    private final KeyedLocks locks;
    private final StatusRecorder recorder;
    private final OperationMetrics metrics;
    private final String host;

    SnapshotRecovery(VmStore store, VmDriver driver, KeyedLocks locks, StatusRecorder recorder,
                     OperationMetrics metrics, String host) {
        this.store = store;
        this.driver = driver;
        this.locks = locks;
        this.recorder = recorder;
        this.metrics = metrics;
        this.host = host;
    }

    void run() {
        List<SnapshotIntent> intents;
        try {
            intents = store.snapshotIntents();
        } catch (RuntimeException e) {
            log.warn("could not read the snapshot journal; snapshot operations cut off by a crash are left as they are", e);
            return;
        }
        for (SnapshotIntent intent : intents) {
            long started = System.nanoTime();
            String outcome;
            try (KeyedLocks.Held held = locks.lock(intent.vmId())) {
                outcome = settle(intent);
            } catch (RuntimeException e) {
                outcome = e.getClass().getSimpleName();
                log.error("VM {}: could not finish or roll back the {} of snapshot '{}' a crash cut off; it stays in the"
                        + " journal for the next manager to open", intent.vmId(), label(intent), intent.snapshot().name(), e);
            }
            if (outcome != null) {
                metrics.record(OPERATION, outcome, System.nanoTime() - started);
            }
        }
    }

    /** Settles one entry; returns the outcome, or null when it is not this host's to settle. */
    private String settle(SnapshotIntent intent) {
        String id = intent.vmId();
        Optional<Vm> found = store.find(id);
        if (found.isEmpty()) {
            store.clearSnapshotIntent(id); // the VM is gone, its images with it
            return null;
        }
        Vm vm = found.get();
        if (!vm.owner().equals(host)) {
            log.info("VM {}: a {} of snapshot '{}' was cut off by a crash on host {}, its owner; left to it", id,
                    label(intent), intent.snapshot().name(), vm.owner());
            return null;
        }
        Snapshot snapshot = intent.snapshot();
        String name = snapshot.name();
        Map<String, Set<String>> held = driver.snapshotNames(vm);
        boolean everywhere = !held.isEmpty() && held.values().stream().allMatch(s -> s.contains(name));
        boolean anywhere = held.values().stream().anyMatch(s -> s.contains(name));
        boolean stored = names(store.snapshots(id)).contains(name);
        String outcome;
        String did;
        switch (intent.operation()) {
            case TAKE -> {
                if (everywhere) {
                    if (!stored) {
                        store.insertSnapshot(id, snapshot);
                    }
                    outcome = "rolled-forward";
                    did = "recorded it: every disk holds it";
                } else {
                    if (anywhere) {
                        driver.deleteSnapshot(vm, name);
                    }
                    if (stored) {
                        store.deleteSnapshot(id, name);
                    }
                    outcome = "rolled-back";
                    did = anywhere ? "removed it from the disks that held it: not every disk did" : "no disk holds it";
                }
            }
            case REVERT -> {
                if (!stored || !everywhere) {
                    throw new HorcruxException("VM '" + id + "': snapshot '" + name + "' is no longer in "
                            + (stored ? "every disk" : "the inventory") + "; the revert cannot be finished");
                }
                VmStatus now = driver.status(id);
                if (!snapshot.withMemory() && now.isActive()) {
                    outcome = "rolled-back";
                    did = "the VM runs, so its disks were never reverted";
                } else if (snapshot.withMemory() && now.isActive()) {
                    VmStatus after = driver.revert(vm, snapshot);
                    store.revertSnapshot(id, name);
                    vm = store.find(id).orElse(vm);
                    if (after != vm.status() && vm.status().isActive()) {
                        vm = recorder.record(vm, after, "reverted to snapshot '" + name + "' (finished after a crash)",
                                vm.runtime());
                    }
                    outcome = "rolled-forward";
                    did = "reverted again, with memory";
                } else {
                    driver.revert(vm, new Snapshot(name, snapshot.parent(), snapshot.takenAt(), false, snapshot.current(),
                            VmStatus.STOPPED));
                    store.revertSnapshot(id, name);
                    outcome = "rolled-forward";
                    did = snapshot.withMemory() ? "reverted its disks; its process is gone, so the memory is not"
                            : "reverted its disks again";
                }
            }
            case DELETE -> {
                if (anywhere) {
                    driver.deleteSnapshot(vm, name);
                }
                if (stored) {
                    store.deleteSnapshot(id, name);
                }
                outcome = "rolled-forward";
                did = "deleted it from the disks and the tree";
            }
            default -> throw new IllegalStateException("unknown operation " + intent.operation());
        }
        removeStrays(vm);
        settleStatus(vm);
        store.clearSnapshotIntent(id);
        log.warn("VM {}: the {} of snapshot '{}' begun at {} was cut off by a crash; {} ({})", id, label(intent), name,
                intent.startedAt(), outcome, did);
        return outcome;
    }

    /** Removes what a disk holds that the tree does not: left by a revert or take cut off midway. */
    private void removeStrays(Vm vm) {
        Set<String> tree = names(store.snapshots(vm.id()));
        Set<String> strays = new TreeSet<>();
        for (Collection<String> names : driver.snapshotNames(vm).values()) {
            names.stream().filter(n -> !tree.contains(n)).forEach(strays::add);
        }
        for (String stray : strays) {
            driver.deleteSnapshot(vm, stray);
            log.warn("VM {}: removed snapshot '{}' from its disks; the inventory does not know it", vm.id(), stray);
        }
    }

    /** A job that ran on after the crash (a save pauses the guest) may have left a stale status. */
    private void settleStatus(Vm before) {
        Vm vm = store.find(before.id()).orElse(before);
        if (!vm.status().isActive()) {
            return;
        }
        VmStatus seen = driver.status(vm.id());
        if (seen.isActive() && seen != vm.status()) {
            recorder.record(vm, seen, "as the driver sees it after a snapshot operation cut off by a crash", vm.runtime());
        }
    }

    private static Set<String> names(List<Snapshot> snapshots) {
        return snapshots.stream().map(Snapshot::name).collect(Collectors.toSet());
    }

    private static String label(SnapshotIntent intent) {
        return switch (intent.operation()) {
            case TAKE -> "taking";
            case REVERT -> "revert";
            case DELETE -> "deletion";
        };
    }
}
