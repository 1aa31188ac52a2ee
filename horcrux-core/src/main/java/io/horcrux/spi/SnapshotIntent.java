package io.horcrux.spi;

import io.horcrux.model.Snapshot;
import io.horcrux.model.VmSpec;
import java.time.Instant;
import java.util.Objects;

/**
 * A snapshot operation the manager has begun on a VM and not yet finished: the entry of the
 * store's intent journal ({@link VmStore#recordSnapshotIntent}). The manager writes it before the
 * driver acts on the VM's images and clears it once the inventory records the result; one left
 * behind by a crash of the process tells the next manager what to finish or roll back when it
 * opens.
 *
 * @param vmId      the VM
 * @param operation what was begun
 * @param snapshot  for {@link Operation#TAKE} the snapshot as it is to be stored; for
 *                  {@link Operation#REVERT} and {@link Operation#DELETE} the stored snapshot
 * @param startedAt when the manager began it
 */
public record SnapshotIntent(String vmId, Operation operation, Snapshot snapshot, Instant startedAt) {

    /** The snapshot operations of {@link io.horcrux.VmManager}. */
    public enum Operation {
        /** {@link io.horcrux.VmManager#snapshot}. */
        TAKE,
        /** {@link io.horcrux.VmManager#revert}. */
        REVERT,
        /** {@link io.horcrux.VmManager#deleteSnapshot}. */
        DELETE
    }

    public SnapshotIntent {
        VmSpec.requireValidId(Objects.requireNonNull(vmId, "vmId"));
        Objects.requireNonNull(operation, "operation");
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(startedAt, "startedAt");
    }
}
