package io.horcrux;

/**
 * A snapshot cannot be taken, reverted to or deleted as asked, for a reason of the input or of
 * the VM's spec: a name that breaks the rule of ids, a VM without a disk that can hold a
 * snapshot, a writable raw disk. The message names the rule. Nothing was changed.
 */
public class InvalidSnapshotException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;

    public InvalidSnapshotException(String vmId, String message) {
        super(message);
        this.vmId = vmId;
    }

    /** The VM concerned. */
    public String vmId() {
        return vmId;
    }
}
