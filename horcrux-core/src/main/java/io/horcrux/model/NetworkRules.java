package io.horcrux.model;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The rules of a VM's NICs beyond name and MAC: a tap NIC's device name, a user-mode NIC's port
 * forwards, and their uniqueness across the VM's NICs. One instance checks the NICs of one spec.
 */
final class NetworkRules {
    /** Linux's interface names (dev_valid_name): at most 15 bytes, no '/', ':', whitespace; here the safe subset. */
    private static final Pattern IFNAME = Pattern.compile("[A-Za-z0-9_.+-]{1,15}");
    private static final Pattern IPV4 = Pattern.compile(
            "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");
    private static final int MAX_FORWARDS = 64;

    /** Where each forward and tap device was first seen, to name it in a duplicate's violation. */
    private Map<String, String> forwardsSeen; // made at the first forward: most NICs have none
    private Map<String, String> tapsSeen; // made at the first tap device

    static boolean isValidTapDevice(String device) {
        return device != null && IFNAME.matcher(device).matches() && !device.equals(".") && !device.equals("..");
    }

    /**
     * Whether {@link #check} has anything to look at in {@code nic}: a tap NIC, a tap device or
     * forwards. A plain user-mode NIC, the common one, has none.
     */
    static boolean appliesTo(NicSpec nic) {
        return nic.mode() == NicMode.TAP || nic.tapDevice() != null || !nic.forwards().isEmpty();
    }

    void check(String field, NicSpec nic, List<Violation> violations) {
        if (nic.mode() == NicMode.TAP) {
            String device = nic.tapDevice();
            if (!isValidTapDevice(device)) {
                violations.add(new Violation(field + ".tapDevice", "a tap NIC's device must be "
                        + NicSpec.TAP_DEVICE_RULE + ", was '" + VmSpec.printable(device) + "'"));
            } else {
                if (tapsSeen == null) {
                    tapsSeen = new HashMap<>();
                }
                String first = tapsSeen.putIfAbsent(device, field);
                if (first != null) {
                    violations.add(new Violation(field + ".tapDevice", "must be unique within the VM, tap device '"
                            + device + "' is used by " + first + " already"));
                }
            }
            if (!nic.forwards().isEmpty()) {
                violations.add(new Violation(field + ".forwards", "a tap NIC takes no port forwards (the guest is on the"
                        + " tap's network; forward ports on a user-mode NIC), had " + nic.forwards().size()));
            }
            return;
        }
        if (nic.tapDevice() != null) {
            violations.add(new Violation(field + ".tapDevice", "only a TAP NIC has a tap device, this one is " + nic.mode()));
        }
        if (nic.forwards().size() > MAX_FORWARDS) {
            violations.add(new Violation(field + ".forwards", "at most " + MAX_FORWARDS + " forwards per NIC, was "
                    + nic.forwards().size()));
        }
        for (int j = 0; j < nic.forwards().size(); j++) {
            checkForward(field + ".forwards[" + j + "]", nic.forwards().get(j), violations);
        }
    }

    private void checkForward(String field, PortForward forward, List<Violation> violations) {
        if (forward == null) {
            violations.add(new Violation(field, "must not be null"));
            return;
        }
        boolean ok = true;
        if (forward.hostPort() < 0 || forward.hostPort() > 65535) {
            violations.add(new Violation(field + ".hostPort", "must be from 0 (a free port chosen at start) to 65535, was "
                    + forward.hostPort()));
            ok = false;
        }
        if (forward.guestPort() < 1 || forward.guestPort() > 65535) {
            violations.add(new Violation(field + ".guestPort", "must be from 1 to 65535, was " + forward.guestPort()));
            ok = false;
        }
        if (!IPV4.matcher(forward.hostAddress()).matches()) {
            violations.add(new Violation(field + ".hostAddress", "must be a dotted IPv4 address such as 127.0.0.1, was '"
                    + VmSpec.printable(forward.hostAddress()) + "'"));
            ok = false;
        }
        if (!ok) {
            return;
        }
        // Two forwards cannot listen on the same fixed host port; and the same forward twice says nothing new.
        String key = forward.hostPort() == 0 ? forward.toString()
                : forward.protocol() + " " + forward.hostAddress() + ":" + forward.hostPort();
        if (forwardsSeen == null) {
            forwardsSeen = new HashMap<>();
        }
        String first = forwardsSeen.putIfAbsent(key, field);
        if (first != null) {
            violations.add(new Violation(field, "must be unique within the VM: " + (forward.hostPort() == 0
                    ? forward + " repeats " + first
                    : forward.protocol().lowerCase() + " " + forward.hostAddress() + ":" + forward.hostPort()
                    + " is forwarded by " + first + " already")));
        }
    }
}
