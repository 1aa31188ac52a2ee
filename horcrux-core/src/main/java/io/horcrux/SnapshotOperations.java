package io.horcrux;

import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Snapshot;
import io.horcrux.model.SnapshotMode;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * Snapshots of one VM under its lock: checks the name, the VM's disks and status before the
 * driver hears of it, then has the driver act on the images and the store record the tree. The
 * images change first and the inventory after, and a failure to record undoes what the driver
 * did, so the two agree. Each snapshot, revert and delete is told to the listeners: a status a
 * revert changes as a status change, anything else as an event whose status stays, with the
 * snapshot's name in its reason. The manager times each as an operation ({@code snapshot},
 * {@code revert}, {@code deleteSnapshot}).
 */
final class SnapshotOperations {
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
            try {
                driver.snapshot(vm, name, withMemory);
            } catch (RuntimeException e) {
                throw Lifecycle.driverFailure("snapshot", vmId, e);
            }
            try {
                store.insertSnapshot(vmId, snapshot);
            } catch (RuntimeException e) {
                try {
                    driver.deleteSnapshot(vm, name);
                } catch (RuntimeException undo) {
                    e.addSuppressed(undo);
                }
                throw e;
            }
            recorder.announce(vm, "snapshot '" + name + "' taken (" + (withMemory ? "disks and memory" : "disks")
                    + ", parent " + parent.orElse("none") + ")");
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
            VmStatus after;
            try {
                after = driver.revert(vm, snapshot);
            } catch (RuntimeException e) {
                throw Lifecycle.driverFailure("revert", vmId, e);
            }
            store.revertSnapshot(vmId, name);
            String reason = "reverted to snapshot '" + name + "'";
            if (after != vm.status()) {
                vm = recorder.moveTo(vm, after, reason, vm.runtime());
            } else {
                recorder.announce(vm, reason);
            }
            return vm;
        });
    }

    void delete(String vmId, String name) {
        checkName(vmId, name);
        lifecycle.withVm(vmId, vm -> {
            lifecycle.requireOwned(vm, "delete a snapshot of");
            checkStatus(vm, "delete a snapshot of");
            find(vmId, name);
            try {
                driver.deleteSnapshot(vm, name);
            } catch (RuntimeException e) {
                throw Lifecycle.driverFailure("delete a snapshot of", vmId, e);
            }
            store.deleteSnapshot(vmId, name);
            recorder.announce(vm, "snapshot '" + name + "' deleted");
            return null;
        });
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
