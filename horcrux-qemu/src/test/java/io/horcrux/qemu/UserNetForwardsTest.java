package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.VmSpec;
import org.junit.jupiter.api.Test;

/** Reading QEMU's {@code info usernet} table (as QEMU 7.2 prints it) back into the spec's forwards. */
class UserNetForwardsTest {
    private static final String HEADER = "  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n";

    @Test
    void chosenPortsAreMatchedByProtocolAndGuestPortAndFixedOnesByTheirOwn() {
        String table = "Hub -1 (net0):\r\n" + HEADER
                + "  TCP[HOST_FORWARD]  13       127.0.0.1 2222       10.0.2.15    22     0     0\r\n"
                + "  TCP[HOST_FORWARD]  12       127.0.0.1 40289       10.0.2.15    22     0     0\r\n"
                + "  UDP[HOST_FORWARD]  11               * 39225       10.0.2.15    53     0     0\r\n"
                + "  TCP[ESTABLISHED]   14       127.0.0.1 51000       10.0.2.15    22     0     0\r\n"
                + "Hub -1 (net2):\r\n" + HEADER
                + "  TCP[HOST_FORWARD]  15       127.0.0.1 41000       10.0.2.15    80     0     0\r\n";
        VmSpec spec = VmSpec.builder().id("a")
                .nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 22), PortForward.udp(0, 53).onHostAddress("0.0.0.0"),
                        PortForward.tcp(2222, 22)))
                .nic(NicSpec.tap("eth1", "tap0"))
                .nic(NicSpec.user("eth2").forward(PortForward.tcp(0, 80)))
                .build();
        assertThat(UserNetForwards.match(spec, UserNetForwards.parse(table))).containsExactly(
                PortForward.tcp(40289, 22), PortForward.udp(39225, 53).onHostAddress("0.0.0.0"), PortForward.tcp(2222, 22),
                PortForward.tcp(41000, 80));
    }

    @Test
    void aForwardQemuDoesNotListIsAnError() {
        VmSpec spec = VmSpec.builder().id("a").nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 22))).build();
        assertThatThrownBy(() -> UserNetForwards.match(spec, UserNetForwards.parse("Hub -1 (net0):\r\n" + HEADER)))
                .isInstanceOf(DriverException.class).hasMessageContaining("tcp 127.0.0.1:0 -> 22");
        assertThat(UserNetForwards.any(VmSpec.builder().id("b").nic(NicSpec.user("eth0")).build())).isFalse();
    }
}
