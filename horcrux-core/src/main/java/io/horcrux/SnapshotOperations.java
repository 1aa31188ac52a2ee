package io.horcrux;

import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Snapshot;
import io.horcrux.model.SnapshotMode;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmStatus;
import io.horcrux.internal.FaultPoint;
import io.horcrux.spi.SnapshotIntent;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots of one VM under its lock: checks the name, the VM's disks and status before the
 * driver hears of it, then has the driver act on the images and the store record the tree. The
 * images change first and the inventory after, and a failure to record undoes what the driver
 * did, so the two agree. Before the driver acts, the operation is written to the store's journal
 * ({@link SnapshotIntent}); the store's write of the result removes it in the same transaction (and
 * a failed driver call or an undone one clears it): a crash in between leaves the entry for
 * {@link SnapshotRecovery} to finish or roll back when a manager next opens, and an entry is left
 * only where the result was not recorded.
 *
 * <p>Each snapshot, revert and delete is told to the listeners as an event of its kind
 * ({@link VmEvent.Kind#SNAPSHOT_TAKEN}, {@link VmEvent.Kind#REVERTED},
 * {@link VmEvent.Kind#SNAPSHOT_DELETED}) with the snapshot's name as subject; a revert that changes
 * the VM's status publishes that status change first. The manager times each as an operation
 * ({@code snapshot}, {@code revert}, {@code deleteSnapshot}), failures included.
 *
 * <p>No progress is reported for a snapshot with memory, so there is no {@link ProgressListener}
 * overload: QEMU 7.2 runs a {@code snapshot-save} job's whole save (RAM included) in one step of its
 * main loop, during which the monitor answers nothing, and its {@code query-jobs} progress goes
 * from 0 of 1 straight to 1 of 1 when the job concludes. There is nothing between 0 and 100 to pass
 * on.
 */
final class SnapshotOperations {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final VmStore store;
    private final VmDriver driver;
    private final Lifecycle lifecycle;
    private final StatusRecorder recorder;
    private final Clock clock;

    SnapshotOperations(VmStore store, VmDriver driver, Lifecycle lifecycle, StatusRecorder recorder, Clock clock) {
        this.store = store;
        this.driver = driver;
        this.lifecycle = lifecycle;
        this.recorder = recorder;
        this.clock = clock;
    }

    Snapshot take(String vmId, String name, SnapshotMode mode) {
        checkName(vmId, name);
        return lifecycle.withVm(vmId, vm -> {
            lifecycle.requireOwned(vm, "snapshot");
            checkStatus(vm, "snapshot");
            checkDisks(vm.spec());
            List<Snapshot> existing = store.snapshots(vmId);
            if (existing.stream().anyMatch(s -> s.name().equals(name))) {
                throw new SnapshotAlreadyExistsException(vmId, name);
            }
            boolean withMemory = mode == SnapshotMode.AUTOMATIC && vm.status() != VmStatus.STOPPED;
            Optional<String> parent = existing.stream().filter(Snapshot::current).map(Snapshot::name).findFirst();
            Snapshot snapshot = new Snapshot(name, parent, clock.instant(), withMemory, true, vm.status());
            store.recordSnapshotIntent(new SnapshotIntent(vmId, SnapshotIntent.Operation.TAKE, snapshot, clock.instant()));
            try {
                driver.snapshot(vm, name, withMemory);
            } catch (RuntimeException e) {
                clearIntent(vmId);
                throw Lifecycle.driverFailure("snapshot", vmId, e);
            }
            FaultPoint.reach("snapshot.after-driver");
            try {
                store.insertSnapshot(vmId, snapshot); // clears the journal entry in the same transaction
            } catch (RuntimeException e) {
                try {
                    driver.deleteSnapshot(vm, name);
                    clearIntent(vmId);
                } catch (RuntimeException undo) {
                    e.addSuppressed(undo);
                }
                throw e;
            }
            String reason = "snapshot '" + name + "' taken (" + (withMemory ? "disks and memory" : "disks") + ", parent "
                    + parent.orElse("none") + ")";
            recorder.announce(VmEvent.Kind.SNAPSHOT_TAKEN, vm, name, reason);
            log.info("VM {}: {}", vmId, reason);
            return snapshot;
        });
    }

    List<Snapshot> list(String vmId) {
        return lifecycle.withVm(vmId, vm -> store.snapshots(vmId));
    }

    Vm revert(String vmId, String name) {
        checkName(vmId, name);
        return lifecycle.withVm(vmId, stored -> {
            lifecycle.requireOwned(stored, "revert");
            checkStatus(stored, "revert");
            Snapshot snapshot = find(vmId, name);
            Vm vm = stored;
            if (snapshot.withMemory() && vm.status() == VmStatus.STOPPED) {
                vm = lifecycle.runHeld(LifecycleOperation.START, vm, null);
            } else if (!snapshot.withMemory() && vm.status() != VmStatus.STOPPED) {
                vm = lifecycle.runHeld(LifecycleOperation.STOP, vm, driver.defaultStopGrace());
            }
            store.recordSnapshotIntent(new SnapshotIntent(vmId, SnapshotIntent.Operation.REVERT, snapshot,
                    clock.instant()));
            VmStatus after;
            try {
                after = driver.revert(vm, snapshot);
            } catch (RuntimeException e) {
                // All or none: the disks are where they were. The current point stays.
                clearIntent(vmId);
                throw Lifecycle.driverFailure("revert", vmId, e);
            }
            FaultPoint.reach("revert.after-driver");
            store.revertSnapshot(vmId, name); // clears the journal entry in the same transaction
            String reason = "reverted to snapshot '" + name + "'";
            if (after != vm.status()) {
                vm = recorder.moveTo(vm, after, reason, vm.runtime());
            }
            recorder.announce(VmEvent.Kind.REVERTED, vm, name, reason);
            log.info("VM {}: {}", vmId, reason);
            return vm;
        });
    }

    void delete(String vmId, String name) {
        checkName(vmId, name);
        lifecycle.withVm(vmId, vm -> {
            lifecycle.requireOwned(vm, "delete a snapshot of");
            checkStatus(vm, "delete a snapshot of");
            Snapshot snapshot = find(vmId, name);
            store.recordSnapshotIntent(new SnapshotIntent(vmId, SnapshotIntent.Operation.DELETE, snapshot,
                    clock.instant()));
            try {
                driver.deleteSnapshot(vm, name);
            } catch (RuntimeException e) {
                clearIntent(vmId);
                throw Lifecycle.driverFailure("delete a snapshot of", vmId, e);
            }
            FaultPoint.reach("delete-snapshot.after-driver");
            store.deleteSnapshot(vmId, name); // clears the journal entry in the same transaction
            recorder.announce(VmEvent.Kind.SNAPSHOT_DELETED, vm, name, "snapshot '" + name + "' deleted");
            log.info("VM {}: snapshot '{}' deleted", vmId, name);
            return null;
        });
    }

    /**
     * Clears the journal once the driver failed or its work was undone. A failure to clear is only
     * logged: the images are as they were, and the next manager to open finds nothing to change
     * (or, for a revert, reverts again to the snapshot the user asked for).
     */
    private void clearIntent(String vmId) {
        try {
            store.clearSnapshotIntent(vmId);
        } catch (RuntimeException e) {
            log.warn("VM {}: could not clear its snapshot journal entry; the next manager to open will check it", vmId, e);
        }
    }

    private Snapshot find(String vmId, String name) {
        return store.snapshots(vmId).stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow(() -> new SnapshotNotFoundException(vmId, name));
    }

    private static void checkName(String vmId, String name) {
        if (!VmSpec.isValidId(name)) {
            throw new InvalidSnapshotException(vmId, "snapshot names must match [a-z0-9][a-z0-9-]{0,62}: 1 to 63"
                    + " lower-case letters, digits or '-', not starting with '-'; was '"
                    + name.replaceAll("\\p{Cntrl}", "?") + "'");
        }
    }

    private static void checkStatus(Vm vm, String operation) {
        VmStatus status = vm.status();
        if (status != VmStatus.STOPPED && status != VmStatus.RUNNING && status != VmStatus.PAUSED) {
            throw new IllegalVmStateException(vm.id(), status, operation);
        }
    }

    /** Every disk that can change must be qcow2, and there must be one. */
    static void checkDisks(VmSpec spec) {
        List<DiskSpec> changing = snapshotDisks(spec);
        if (changing.isEmpty()) {
            throw new InvalidSnapshotException(spec.id(), "VM '" + spec.id()
                    + "' has no disk that can hold a snapshot (a writable qcow2 disk)");
        }
        for (DiskSpec disk : changing) {
            if (disk.format() != DiskFormat.QCOW2) {
                throw new InvalidSnapshotException(spec.id(), "VM '" + spec.id() + "': disk '" + disk.name()
                        + "' is " + disk.format().qemuName() + "; snapshots need every writable disk to be qcow2");
            }
        }
    }

    /** The disks a snapshot covers: those neither read-only nor CD-ROMs, in spec order. */
    static List<DiskSpec> snapshotDisks(VmSpec spec) {
        return spec.disks().stream().filter(d -> !d.readOnly() && d.kind() != DiskKind.CDROM).toList();
    }
}
