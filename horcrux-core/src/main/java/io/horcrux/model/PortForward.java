package io.horcrux.model;

import java.util.Objects;

/**
 * A port of a user-mode NIC's guest reachable from the host: connections (or datagrams) to
 * {@code hostAddress:hostPort} on the host go to {@code guestPort} of the guest's address on that
 * NIC. Made with {@link #tcp(int, int)} or {@link #udp(int, int)}, bound to {@code 127.0.0.1}
 * unless {@link #onHostAddress(String)} names another host address: a forward never listens on
 * every interface by accident.
 *
 * <p>In a {@link VmSpec} a host port of 0 means "a free port chosen at start"; the forwards in
 * {@link VmRuntime#forwards()} always carry the host port actually bound, so a caller learns where
 * to connect:
 *
 * <pre>{@code
 * VmSpec spec = VmSpec.builder().id("web-1")
 *     .nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 22)))
 *     .build();
 * Vm vm = vms.start("web-1");
 * int sshPort = vm.runtime().forwards().get(0).hostPort();   // connect to 127.0.0.1:sshPort
 * }</pre>
 *
 * <p>{@link VmSpec} checks the rules: ports from 0 (host only) to 65535, guest ports from 1, the
 * host address a dotted IPv4 literal, no two forwards of a VM on the same protocol, address and
 * fixed host port, and forwards on user-mode NICs only.
 *
 * @param protocol    TCP or UDP
 * @param hostAddress the host address to listen on, a dotted IPv4 literal; {@value #LOOPBACK} by default
 * @param hostPort    the host port, 0 for one chosen at start
 * @param guestPort   the port in the guest
 */
public record PortForward(Protocol protocol, String hostAddress, int hostPort, int guestPort) {
    /** The host address forwards bind to unless told otherwise. */
    public static final String LOOPBACK = "127.0.0.1";

    /** The transport a forward carries. */
    public enum Protocol {
        TCP, UDP;

        /** The lower-case name QEMU and most tools use, {@code tcp} or {@code udp}. */
        public String lowerCase() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** @throws NullPointerException if {@code protocol} or {@code hostAddress} is null */
    public PortForward {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(hostAddress, "hostAddress");
    }

    /** A TCP forward from {@code 127.0.0.1:hostPort} (0: chosen at start) to the guest's {@code guestPort}. */
    public static PortForward tcp(int hostPort, int guestPort) {
        return new PortForward(Protocol.TCP, LOOPBACK, hostPort, guestPort);
    }

    /** A UDP forward from {@code 127.0.0.1:hostPort} (0: chosen at start) to the guest's {@code guestPort}. */
    public static PortForward udp(int hostPort, int guestPort) {
        return new PortForward(Protocol.UDP, LOOPBACK, hostPort, guestPort);
    }

    /**
     * This forward listening on another host address, for example {@code "0.0.0.0"} for every
     * interface or one interface's address: reachable from other hosts, so choose it deliberately.
     */
    public PortForward onHostAddress(String address) {
        return new PortForward(protocol, Objects.requireNonNull(address, "address"), hostPort, guestPort);
    }

    /** This forward with the host port given: what a driver reports once it has bound a chosen port. */
    public PortForward withHostPort(int port) {
        return new PortForward(protocol, hostAddress, port, guestPort);
    }

    /** For example {@code tcp 127.0.0.1:2222 -> 22}. */
    @Override
    public String toString() {
        return protocol.lowerCase() + " " + hostAddress + ":" + hostPort + " -> " + guestPort;
    }
}
