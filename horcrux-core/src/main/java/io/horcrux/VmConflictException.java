package io.horcrux;

/**
 * A write lost an optimistic-concurrency race: the stored VM no longer has the version the
 * writer read. Nothing was overwritten; read the VM again and retry if it still makes sense.
 */
public class VmConflictException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;
    private final long expectedVersion;

    public VmConflictException(String vmId, long expectedVersion) {
        super("VM '" + vmId + "' was changed concurrently: expected version " + expectedVersion
                + " is no longer current");
        this.vmId = vmId;
        this.expectedVersion = expectedVersion;
    }

    public String vmId() {
        return vmId;
    }

    public long expectedVersion() {
        return expectedVersion;
    }
}
