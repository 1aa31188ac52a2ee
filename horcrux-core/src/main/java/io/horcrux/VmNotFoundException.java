package io.horcrux;

/** No VM with the given id exists in the inventory. */
public class VmNotFoundException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;

    public VmNotFoundException(String vmId) {
        super("no VM with id '" + vmId + "'");
        this.vmId = vmId;
    }

    /** The id that was looked up. */
    public String vmId() {
        return vmId;
    }
}
