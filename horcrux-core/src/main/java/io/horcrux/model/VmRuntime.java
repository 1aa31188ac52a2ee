package io.horcrux.model;

/**
 * Facts about a VM's hypervisor process while it is active, as reported by the driver.
 *
 * @param pid     the host process id, or 0 where there is no host process (the simulated driver)
 * @param monitor where the driver talks to the process (a QMP socket path), or an empty string
 */
public record VmRuntime(long pid, String monitor) {
    public VmRuntime {
        if (pid < 0) {
            throw new IllegalArgumentException("pid must not be negative, was " + pid);
        }
        java.util.Objects.requireNonNull(monitor, "monitor");
    }
}
