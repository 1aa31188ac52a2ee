package io.horcrux;

import java.util.List;

/**
 * A create named ids that already exist, in the inventory or twice in the same batch.
 * Nothing was written: a batch is all or none.
 */
public class VmAlreadyExistsException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final List<String> vmIds;

    public VmAlreadyExistsException(List<String> vmIds) {
        super((vmIds.size() == 1 ? "a VM with id '" + vmIds.get(0) + "' already exists"
                : "VMs with these ids already exist: " + vmIds));
        this.vmIds = List.copyOf(vmIds);
    }

    /** Every offending id, in the order the request named them. */
    public List<String> vmIds() {
        return vmIds;
    }
}
