package io.horcrux;

import io.horcrux.model.VmStatus;

/**
 * The operation is not allowed in the VM's current status, for example pausing a stopped
 * VM or deleting a running one. The VM was not changed.
 */
public class IllegalVmStateException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;
    private final VmStatus current;
    private final String operation;

    public IllegalVmStateException(String vmId, VmStatus current, String operation) {
        super("cannot " + operation + " VM '" + vmId + "': it is " + current);
        this.vmId = vmId;
        this.current = current;
        this.operation = operation;
    }

    /** As {@link #IllegalVmStateException(String, VmStatus, String)}, the message saying the rule too. */
    public IllegalVmStateException(String vmId, VmStatus current, String operation, String rule) {
        super("cannot " + operation + " VM '" + vmId + "': it is " + current + "; " + rule);
        this.vmId = vmId;
        this.current = current;
        this.operation = operation;
    }

    public IllegalVmStateException(String vmId, VmStatus current, VmStatus requested) {
        super("VM '" + vmId + "' cannot go from " + current + " to " + requested);
        this.vmId = vmId;
        this.current = current;
        this.operation = "move to " + requested;
    }

    public String vmId() {
        return vmId;
    }

    /** The status the VM was in when the operation was refused. */
    public VmStatus current() {
        return current;
    }

    /** What was asked, for example {@code "pause"} or {@code "move to RUNNING"}. */
    public String operation() {
        return operation;
    }
}
