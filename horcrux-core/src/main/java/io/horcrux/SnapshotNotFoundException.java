package io.horcrux;

/**
 * The VM has no snapshot of that name (it may be another VM's). Nothing was changed.
 */
public class SnapshotNotFoundException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;
    private final String snapshot;

    public SnapshotNotFoundException(String vmId, String snapshot) {
        super("VM '" + vmId + "' has no snapshot '" + snapshot + "'");
        this.vmId = vmId;
        this.snapshot = snapshot;
    }

    public String vmId() {
        return vmId;
    }

    /** The snapshot name that was looked up. */
    public String snapshot() {
        return snapshot;
    }
}
