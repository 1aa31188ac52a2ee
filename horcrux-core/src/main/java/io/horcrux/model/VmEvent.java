package io.horcrux.model;

import java.time.Instant;
import java.util.Objects;

/**
 * A VM's status changed.
 *
 * @param vmId           the VM
 * @param previousStatus the status before
 * @param newStatus      the status after
 * @param reason         why, for example {@code "start requested"} or {@code "process killed by signal 9"}
 * @param time           when the manager recorded the change (from its {@link java.time.Clock})
 * @param version        the VM's version after the change; grows with every change of one VM
 */
public record VmEvent(String vmId, VmStatus previousStatus, VmStatus newStatus, String reason, Instant time,
                      long version) {
    public VmEvent {
        Objects.requireNonNull(vmId, "vmId");
        Objects.requireNonNull(previousStatus, "previousStatus");
        Objects.requireNonNull(newStatus, "newStatus");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(time, "time");
    }
}
