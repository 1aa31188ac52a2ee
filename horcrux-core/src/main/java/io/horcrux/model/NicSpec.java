package io.horcrux.model;

import java.util.Objects;

/**
 * A network interface of a VM. User-mode networking (NAT through the hypervisor process, no
 * host set-up) is the only mode today. When {@code mac} is {@code null} the {@link VmSpec}
 * generates a locally administered unicast address under QEMU's {@code 52:54:00} prefix.
 *
 * @param name {@code [a-z0-9][a-z0-9-]{0,31}}, unique within the VM
 * @param mac  six lower-case hex octets separated by {@code :}, unicast; or {@code null}
 */
public record NicSpec(String name, String mac) {

    /** A user-mode NIC whose MAC address is generated when the spec is built. */
    public static NicSpec user(String name) {
        return new NicSpec(name, null);
    }

    /** This NIC with the given MAC address. */
    public NicSpec withMac(String mac) {
        return new NicSpec(name, Objects.requireNonNull(mac, "mac"));
    }
}
