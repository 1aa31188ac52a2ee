package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.VmConsole;
import io.horcrux.VmManager;
import io.horcrux.model.NicSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.TestGuest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The test guest on a host tap device the test makes ({@code ip tuntap add}, an address on the
 * host's side, link up) and removes: the guest sees its link up, reaches the host's address by
 * ping, and serves a line the host reads over TCP on the tap's subnet; a tap that does not exist
 * fails the start clearly. Making a tap needs root: CI runs as root, so there a non-root run fails;
 * elsewhere (no {@code CI} in the environment) it is skipped, saying why.
 */
class QemuTapIT {
    private static TestGuest guest;
    private static Path root;
    private static final long PID = ProcessHandle.current().pid();
    /** At most 15 characters, unique to this JVM. */
    private static final String TAP = "hxtap" + (PID % 100_000);
    private static final int NET = 20 + (int) (PID % 200);
    private static final String HOST_ADDRESS = "10.213." + NET + ".1";
    private static final String GUEST_ADDRESS = "10.213." + NET + ".2";

    private Path state;
    private VmManager manager;

    @BeforeAll
    static void requireRootAndMakeTheTap() throws Exception {
        Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (!Integer.valueOf(0).equals(uid)) {
            String why = "QemuTapIT makes a tap device, which needs root; this JVM runs as uid " + uid;
            if (System.getenv("CI") != null) {
                throw new AssertionError(why + " (CI is set: CI must run these tests as root)");
            }
            Assumptions.abort(why + "; skipped outside CI");
        }
        guest = TestGuest.locate();
        root = QemuItSupport.newStateDirectory("tap");
        ip("link", "del", "dev", TAP); // a leftover of a killed run, if any; failure is fine
        require(ip("tuntap", "add", "dev", TAP, "mode", "tap"), "ip tuntap add dev " + TAP + " mode tap");
        require(ip("addr", "add", HOST_ADDRESS + "/24", "dev", TAP), "ip addr add " + HOST_ADDRESS + "/24 dev " + TAP);
        require(ip("link", "set", TAP, "up"), "ip link set " + TAP + " up");
    }

    @AfterAll
    static void removeTheTap() throws Exception {
        if (root != null) {
            ip("link", "del", "dev", TAP);
            assertThat(Path.of("/sys/class/net", TAP)).as("the tap is removed").doesNotExist();
            QemuItSupport.assertNoQemuLeftUnder(root);
        }
    }

    @BeforeEach
    void open() throws Exception {
        state = Files.createTempDirectory(root, "s");
        manager = VmManager.builder().store(InMemoryVmStore.create())
                .driver(QemuDriver.builder().stateDirectory(state).qmpTimeout(Duration.ofSeconds(30)).build())
                .stopVmsOnClose(true).build();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void theGuestOnATapSeesItsLinkUpPingsTheHostAndServesALineOnTheTapsSubnet() throws Exception {
        manager.create(QemuNetworkIT.guestSpec(guest, "tapped").nic(NicSpec.tap("eth0", TAP)).build());
        manager.start("tapped");
        VmConsole console = manager.console("tapped");
        console.await(Pattern.compile(Pattern.quote(guest.readyLine())), QemuNetworkIT.BOOT);

        QemuNetworkIT.run(console, "ip link set eth0 up && ip addr add " + GUEST_ADDRESS + "/24 dev eth0", "CONFIGURED");
        // The link comes up a moment after the interface does: wait for it in the guest, up to 10 s.
        console.write("for i in $(seq 100); do [ \"$(cat /sys/class/net/eth0/operstate)\" = up ] && break; usleep 100000;"
                + " done; echo \"LINK=$(cat /sys/class/net/eth0/operstate)\"\n");
        assertThat(console.await(Pattern.compile("^LINK=."), QemuNetworkIT.ANSWER)).isEqualTo("LINK=up");
        assertThat(QemuNetworkIT.run(console, "ping -c 3 -W 10 " + HOST_ADDRESS, "PINGED")).as(console.output())
                .isEqualTo("PINGED=0");
        console.write("(while true; do echo HORCRUX-TAP-LINE | nc -l -p 7001; done) >/dev/null 2>&1 &\n");
        assertThat(QemuNetworkIT.readLine(new InetSocketAddress(GUEST_ADDRESS, 7001), console)).isEqualTo("HORCRUX-TAP-LINE");
        assertThat(manager.find("tapped").orElseThrow().runtime().forwards()).isEmpty();
    }

    @Test
    void aTapDeviceThatDoesNotExistFailsTheStartNamingItAndLeavesNoProcess() {
        manager.create(QemuNetworkIT.guestSpec(guest, "untapped").nic(NicSpec.tap("eth0", "hxnone" + (PID % 100_000)))
                .build());
        assertThatThrownBy(() -> manager.start("untapped")).isInstanceOf(DriverException.class)
                .hasMessageContaining("tap device 'hxnone" + (PID % 100_000) + "'").hasMessageContaining("does not exist")
                .hasMessageContaining("ip tuntap add");
        assertThat(manager.find("untapped").orElseThrow().status()).isEqualTo(VmStatus.STOPPED);
        assertThat(QemuItSupport.qemuProcessesUnder(state.resolve("untapped"))).isEmpty();
    }

    private static void require(String failure, String what) {
        if (failure != null) {
            throw new AssertionError(what + " failed: " + failure);
        }
    }

    /** Runs {@code ip} with the arguments; null on success, else its output. */
    private static String ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add("ip");
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out";
        }
        return p.exitValue() == 0 ? null : "exit " + p.exitValue() + ": " + output;
    }
}
