package io.horcrux;

/**
 * The VM is owned by another host: only its owner starts, stops, pauses, resumes, resets,
 * deletes and supervises it, and reads its live stats. Every host lists and reads it. Nothing
 * was changed; {@link VmManager#moveTo} gives a stopped VM to another host.
 */
public class VmOwnedElsewhereException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;
    private final String owner;
    private final String host;

    public VmOwnedElsewhereException(String vmId, String owner, String host, String operation) {
        super("cannot " + operation + " VM '" + vmId + "' on host '" + host + "': it is owned by host '" + owner
                + "'; only its owner runs it (move it with moveTo while it is stopped)");
        this.vmId = vmId;
        this.owner = owner;
        this.host = host;
    }

    public String vmId() {
        return vmId;
    }

    /** The host that owns the VM. */
    public String owner() {
        return owner;
    }

    /** The host of the manager that was asked. */
    public String host() {
        return host;
    }
}
