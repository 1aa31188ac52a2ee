package io.horcrux;

/** The VM already has a snapshot of that name. Nothing was changed. */
public class SnapshotAlreadyExistsException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;
    private final String snapshot;

    public SnapshotAlreadyExistsException(String vmId, String snapshot) {
        super("VM '" + vmId + "' already has a snapshot '" + snapshot + "'");
        this.vmId = vmId;
        this.snapshot = snapshot;
    }

    public String vmId() {
        return vmId;
    }

    /** The name that is taken. */
    public String snapshot() {
        return snapshot;
    }
}
