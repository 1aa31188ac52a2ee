package io.horcrux.reliability;

import io.horcrux.VmManager;
import io.horcrux.internal.FaultPoint;
import io.horcrux.model.SnapshotMode;
import java.nio.file.Path;

/**
 * The child JVM of {@link SnapshotCrashIT}: opens a manager on the data directory (SQLite and
 * real QEMU, as {@link ManagerChild} does), names the step at which to die
 * ({@link FaultPoint#PROPERTY}) only once it is open, then runs one snapshot operation. Prints
 * {@code OPEN} when the manager is open and {@code RETURNED} if the operation returns: the test
 * expects the fault point to have killed it in between.
 *
 * <p>Arguments: data directory, step, operation ({@code snapshot}, {@code snapshot-disks},
 * {@code revert}, {@code delete}), VM id, snapshot name.
 */
public final class SnapshotChild {
    private SnapshotChild() {
    }

    public static void main(String[] args) {
        Path data = Path.of(args[0]);
        String step = args[1];
        String operation = args[2];
        String vmId = args[3];
        String name = args[4];
        try (VmManager vms = VmManager.builder().store(ManagerChild.store(data)).driver(ManagerChild.driver(data)).build()) {
            System.out.println("OPEN");
            System.out.flush();
            System.setProperty(FaultPoint.PROPERTY, step);
            switch (operation) {
                case "snapshot" -> vms.snapshot(vmId, name);
                case "snapshot-disks" -> vms.snapshot(vmId, name, SnapshotMode.DISKS_ONLY);
                case "revert" -> vms.revert(vmId, name);
                case "delete" -> vms.deleteSnapshot(vmId, name);
                default -> throw new IllegalArgumentException("unknown operation " + operation);
            }
            System.out.println("RETURNED");
        }
    }
}
