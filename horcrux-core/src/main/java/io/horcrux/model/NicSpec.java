package io.horcrux.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A network interface of a VM: {@link #user(String) user-mode} (NAT through the hypervisor
 * process, no host set-up, reachable from the host through {@link #forward port forwards}) or
 * {@link #tap(String, String) an existing host tap device}. When {@code mac} is {@code null} the
 * {@link VmSpec} generates a locally administered unicast address under QEMU's {@code 52:54:00}
 * prefix.
 *
 * <pre>{@code
 * NicSpec.user("eth0").forward(PortForward.tcp(0, 22))   // SSH on a free host port of 127.0.0.1
 * NicSpec.tap("eth1", "tap-web1")                        // the operator's tap device
 * }</pre>
 *
 * <p>{@link VmSpec} checks the rules: see there and {@link PortForward}; a tap device name follows
 * Linux's interface-name rules ({@value #TAP_DEVICE_RULE}).
 *
 * @param name      {@code [a-z0-9][a-z0-9-]{0,31}}, unique within the VM
 * @param mac       six lower-case hex octets separated by {@code :}, unicast; or {@code null}
 * @param mode      user-mode or tap; {@code null} means {@link NicMode#USER}
 * @param tapDevice the host tap device of a {@link NicMode#TAP} NIC, {@code null} otherwise
 * @param forwards  the port forwards of a {@link NicMode#USER} NIC, in order; {@code null} means none
 */
public record NicSpec(String name, String mac, NicMode mode, String tapDevice, List<PortForward> forwards) {
    /** The rule for {@link #tapDevice()}: Linux's rules for an interface name. */
    public static final String TAP_DEVICE_RULE = "1 to 15 characters of letters, digits, '-', '_', '.' or '+',"
            + " not '.' or '..'";

    /** Defaults {@code mode} to USER and {@code forwards} to none, and copies the forwards. */
    public NicSpec {
        if (mode == null) {
            mode = NicMode.USER;
        }
        forwards = forwards == null ? List.of() : List.copyOf(forwards);
    }

    /** A user-mode NIC with the given MAC address (null: generated), without forwards. */
    public NicSpec(String name, String mac) {
        this(name, mac, NicMode.USER, null, List.of());
    }

    /** A user-mode NIC whose MAC address is generated when the spec is built. */
    public static NicSpec user(String name) {
        return new NicSpec(name, null);
    }

    /**
     * A NIC on the host's existing tap device {@code device}, for example one the operator made
     * with {@code ip tuntap add dev tap-web1 mode tap} and put on a bridge. Starting the VM fails
     * with a {@link io.horcrux.DriverException} while the device does not exist.
     */
    public static NicSpec tap(String name, String device) {
        return new NicSpec(name, null, NicMode.TAP, Objects.requireNonNull(device, "device"), List.of());
    }

    /** This NIC with the given MAC address. */
    public NicSpec withMac(String mac) {
        return new NicSpec(name, Objects.requireNonNull(mac, "mac"), mode, tapDevice, forwards);
    }

    /**
     * This NIC with the forwards added after its own. Only user-mode NICs take forwards: the spec
     * refuses them on a tap NIC.
     */
    public NicSpec forward(PortForward... more) {
        List<PortForward> all = new ArrayList<>(forwards);
        for (PortForward f : more) {
            all.add(Objects.requireNonNull(f, "forward"));
        }
        return new NicSpec(name, mac, mode, tapDevice, all);
    }
}
