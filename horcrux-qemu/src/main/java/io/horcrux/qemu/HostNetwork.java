package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.model.NicMode;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What only the host can tell about a spec's NICs, checked at start before QEMU runs: each tap
 * device exists and is a tap, and each fixed host port of a forward is free. QEMU would fail on
 * either too, but in words that do not say what to do; and a port taken between this check and
 * QEMU's bind still fails the start with QEMU's message, which names the forwarding rule.
 */
final class HostNetwork {
    private static final Path SYS_CLASS_NET = Path.of("/sys/class/net");

    private HostNetwork() {
    }

    /**
     * @throws DriverException naming every missing tap device and every host port in use
     */
    static void check(VmSpec spec) {
        List<String> problems = new ArrayList<>();
        for (NicSpec nic : spec.nics()) {
            if (nic.mode() == NicMode.TAP) {
                tapProblem(nic).ifPresent(problems::add);
            }
            for (PortForward f : nic.forwards()) {
                String problem = f.hostPort() == 0 ? null : bindProblem(f);
                if (problem != null) {
                    problems.add("host port " + f.protocol().lowerCase() + " " + f.hostAddress() + ":" + f.hostPort()
                            + " (forward " + f + " of NIC " + nic.name() + ") " + problem);
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new DriverException("VM '" + spec.id() + "' cannot start: " + String.join("; ", problems));
        }
    }

    private static java.util.Optional<String> tapProblem(NicSpec nic) {
        String device = nic.tapDevice();
        Path dir = SYS_CLASS_NET.resolve(device);
        if (!Files.isDirectory(dir)) {
            return java.util.Optional.of("tap device '" + device + "' of NIC " + nic.name() + " does not exist on this"
                    + " host; create it first, for example: ip tuntap add dev " + device + " mode tap && ip link set "
                    + device + " up (and add it to a bridge)");
        }
        if (!Files.exists(dir.resolve("tun_flags"))) {
            return java.util.Optional.of("network device '" + device + "' of NIC " + nic.name()
                    + " is not a tap device (no tun_flags in " + dir + ")");
        }
        return java.util.Optional.empty();
    }

    /** Binds the forward's host address and port for a moment, as QEMU will; null when that works. */
    private static String bindProblem(PortForward f) {
        try {
            InetSocketAddress at = new InetSocketAddress(InetAddress.getByName(f.hostAddress()), f.hostPort());
            if (f.protocol() == PortForward.Protocol.TCP) {
                try (ServerSocket socket = new ServerSocket()) {
                    socket.setReuseAddress(true); // as QEMU's slirp does: a port in TIME_WAIT is free
                    socket.bind(at, 1);
                }
            } else {
                try (DatagramSocket socket = new DatagramSocket(null)) {
                    socket.bind(at);
                }
            }
            return null;
        } catch (java.net.BindException e) {
            String why = String.valueOf(e.getMessage());
            if (why.contains("ermission")) {
                return "cannot be bound: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
            }
            if (why.contains("assign")) {
                return "cannot be bound: the address is not one of this host's (" + why + ")";
            }
            return "is in use by another VM or program";
        } catch (IOException e) {
            return "cannot be bound: " + e.getMessage();
        }
    }
}
