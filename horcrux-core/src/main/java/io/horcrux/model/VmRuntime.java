package io.horcrux.model;

import java.util.List;
import java.util.Objects;

/**
 * Facts about a VM's hypervisor process while it is active, as reported by the driver.
 *
 * @param pid      the host process id, or 0 where there is no host process (the simulated driver)
 * @param monitor  where the driver talks to the process (a QMP socket path), or an empty string
 * @param forwards the port forwards of the VM's user-mode NICs as bound on the host, in the
 *                 order of its spec (NIC by NIC): each with the host port actually listening, so a
 *                 forward asked with host port 0 shows the port chosen at start; empty when the
 *                 spec has none
 */
public record VmRuntime(long pid, String monitor, List<PortForward> forwards) {
    public VmRuntime {
        if (pid < 0) {
            throw new IllegalArgumentException("pid must not be negative, was " + pid);
        }
        Objects.requireNonNull(monitor, "monitor");
        forwards = forwards == null ? List.of() : List.copyOf(forwards);
        for (PortForward f : forwards) {
            if (f.hostPort() < 1 || f.hostPort() > 65535) {
                throw new IllegalArgumentException("a runtime forward's host port is the one bound, from 1 to 65535: " + f);
            }
        }
    }

    /** Facts without port forwards. */
    public VmRuntime(long pid, String monitor) {
        this(pid, monitor, List.of());
    }
}
