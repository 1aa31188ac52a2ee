package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.model.NicMode;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.VmSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host ports a running QEMU's user-mode NICs listen on, read from its own account: QMP has no
 * command for them, so the driver asks the human monitor's {@code info usernet} (through
 * {@code human-monitor-command}), whose table lists each {@code HOST_FORWARD} socket with the
 * address and port it bound. Asking QEMU rather than choosing a port in Java first leaves no
 * window in which another program could take a port between the choice and QEMU's bind, and works
 * the same after a reattach.
 */
final class UserNetForwards {
    private static final Logger log = LoggerFactory.getLogger(UserNetForwards.class);
    /** {@code Hub -1 (net0):}: the start of one netdev's table. */
    private static final Pattern SECTION = Pattern.compile("\\(([A-Za-z0-9_-]+)\\):\\s*$");
    /** {@code TCP[HOST_FORWARD]  12   127.0.0.1 40289   10.0.2.15  22  0  0}. */
    private static final Pattern HOST_FORWARD = Pattern.compile(
            "^\\s*(TCP|UDP)\\[HOST_FORWARD\\]\\s+-?\\d+\\s+(\\S+)\\s+(\\d+)\\s+(\\S+)\\s+(\\d+)\\b");

    /** One listening socket of the table. */
    record Bound(PortForward.Protocol protocol, String address, int hostPort, int guestPort) {
    }

    private UserNetForwards() {
    }

    /** Whether the spec has any forward, so that the monitor need not be asked otherwise. */
    static boolean any(VmSpec spec) {
        return spec.nics().stream().anyMatch(nic -> !nic.forwards().isEmpty());
    }

    /** Asks the VM's QEMU and matches its answer with the spec's forwards. */
    static List<PortForward> read(QmpClient qmp, VmSpec spec) {
        if (!any(spec)) {
            return List.of();
        }
        String table = qmp.execute("human-monitor-command", Map.of("command-line", "info usernet")).asText();
        List<PortForward> bound = match(spec, parse(table));
        log.info("VM {}: port forwards bound: {}", spec.id(), bound);
        return bound;
    }

    /** The table's listening sockets by netdev id ({@code net<i>}, as {@link QemuCommandLine} names them). */
    static Map<String, List<Bound>> parse(String table) {
        Map<String, List<Bound>> byNetdev = new HashMap<>();
        List<Bound> current = null;
        for (String line : table.split("\\R")) {
            Matcher section = SECTION.matcher(line);
            if (section.find() && !line.contains("[")) {
                current = byNetdev.computeIfAbsent(section.group(1), k -> new ArrayList<>());
                continue;
            }
            Matcher m = HOST_FORWARD.matcher(line);
            if (m.find() && current != null) {
                current.add(new Bound(PortForward.Protocol.valueOf(m.group(1)), m.group(2), Integer.parseInt(m.group(3)),
                        Integer.parseInt(m.group(5))));
            }
        }
        return byNetdev;
    }

    /**
     * The spec's forwards, NIC by NIC, with the host port QEMU bound: a fixed one must be there as
     * asked, one asked as 0 takes a listening socket of the same protocol and guest port not yet
     * taken (preferring the same address).
     *
     * @throws DriverException if QEMU lists no socket for a forward
     */
    static List<PortForward> match(VmSpec spec, Map<String, List<Bound>> table) {
        List<PortForward> result = new ArrayList<>();
        for (int i = 0; i < spec.nics().size(); i++) {
            NicSpec nic = spec.nics().get(i);
            if (nic.mode() != NicMode.USER || nic.forwards().isEmpty()) {
                continue;
            }
            List<Bound> free = new ArrayList<>(table.getOrDefault("net" + i, List.of()));
            PortForward[] bound = new PortForward[nic.forwards().size()];
            for (int pass = 0; pass < 2; pass++) { // fixed ports first, so a chosen one never takes theirs
                for (int j = 0; j < bound.length; j++) {
                    PortForward f = nic.forwards().get(j);
                    if ((f.hostPort() != 0) != (pass == 0)) {
                        continue;
                    }
                    Bound b = take(free, f);
                    if (b == null) {
                        throw new DriverException("VM '" + spec.id() + "': QEMU lists no host socket for forward " + f
                                + " of NIC " + nic.name() + " (info usernet)");
                    }
                    bound[j] = f.withHostPort(b.hostPort());
                }
            }
            result.addAll(List.of(bound));
        }
        return List.copyOf(result);
    }

    private static Bound take(List<Bound> free, PortForward f) {
        Bound fallback = null;
        for (Bound b : free) {
            if (b.protocol() != f.protocol() || b.guestPort() != f.guestPort()
                    || (f.hostPort() != 0 && b.hostPort() != f.hostPort())) {
                continue;
            }
            if (sameAddress(b.address(), f.hostAddress())) {
                free.remove(b);
                return b;
            }
            if (fallback == null) {
                fallback = b;
            }
        }
        if (fallback != null) {
            free.remove(fallback);
        }
        return fallback;
    }

    /** QEMU shows a socket bound to every address as {@code *}. */
    private static boolean sameAddress(String shown, String asked) {
        return shown.equals(asked) || (shown.equals("*") && asked.equals("0.0.0.0"));
    }
}
