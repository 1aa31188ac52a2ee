package io.horcrux.model;

/** How a {@link NicSpec} reaches the network. */
public enum NicMode {
    /**
     * User-mode networking: NAT through the hypervisor process, no host set-up, the guest gets an
     * address by DHCP ({@code 10.0.2.15} under QEMU); reachable from the host through
     * {@link PortForward port forwards} only.
     */
    USER,
    /**
     * An existing host tap device, made by the operator (usually on a bridge): the guest is on
     * whatever network the tap is on. The device must exist when the VM starts.
     */
    TAP
}
