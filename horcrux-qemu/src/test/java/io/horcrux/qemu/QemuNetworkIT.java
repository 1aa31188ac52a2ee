package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.VmConsole;
import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.CloudInit;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmStore;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.TestGuest;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The test guest on real QEMU, reached the ways a user reaches a VM: it reads its cloud-init
 * seed by the seed's label, serves a line on a TCP port that the host reads through a user-mode
 * forward (host port 0, the port reported in the runtime facts, again after a reattach), and
 * talks over a tap device (see {@link QemuTapIT}). Guest waits are generous: a shared 2-core
 * machine under TCG may take several times the median.
 */
class QemuNetworkIT {
    static final Duration BOOT = Duration.ofSeconds(90);
    static final Duration ANSWER = Duration.ofSeconds(60);
    private static TestGuest guest;
    private static Path root;

    private Path state;
    private VmStore store;
    private VmManager manager;

    @BeforeAll
    static void locateGuest() throws Exception {
        guest = TestGuest.locate();
        root = QemuItSupport.newStateDirectory("net");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    @BeforeEach
    void open() throws Exception {
        state = Files.createTempDirectory(root, "s");
        store = InMemoryVmStore.create();
        manager = open(true);
    }

    private VmManager open(boolean stopVmsOnClose) {
        return open(store, stopVmsOnClose);
    }

    private VmManager open(VmStore inventory, boolean stopVmsOnClose) {
        return VmManager.builder().store(inventory)
                .driver(QemuDriver.builder().stateDirectory(state).qmpTimeout(Duration.ofSeconds(30)).build())
                .stopVmsOnClose(stopVmsOnClose).build();
    }

    @AfterEach
    void close() {
        try {
            // A test that fails while its manager leaves VMs running must not leave them behind.
            manager.withStream(io.horcrux.model.VmQuery.all(), vms -> vms.filter(vm -> vm.status().isActive()).toList())
                    .forEach(vm -> manager.stop(vm.id(), Duration.ZERO));
        } finally {
            manager.close();
        }
    }

    /** Fails, saying what to do, when the test guest was built before it had what the network tests use. */
    static void requireNetworkGuest(VmConsole console) {
        String answer = run(console, "[ -x /etc/udhcpc/default.script ] && [ -d /mnt ]", "NETGUEST");
        if (!answer.equals("NETGUEST=0")) {
            throw new AssertionError("the test guest has no /etc/udhcpc/default.script or /mnt: it was built by an older"
                    + " scripts/build-test-guest; run scripts/build-test-guest (or scripts/setup-debian) again");
        }
    }

    static VmSpec.Builder guestSpec(TestGuest guest, String id) {
        return VmSpec.builder().id(id).memoryMiB(256).cpus(1)
                .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline()));
    }

    /** Runs a command in the guest's shell; returns the line after a marker, failing with the console when absent. */
    static String run(VmConsole console, String command, String marker) {
        console.write(command + "; echo " + marker + "=$?\n");
        return console.await(Pattern.compile("^" + marker + "="), ANSWER);
    }

    @Test
    void theGuestFindsItsCloudInitSeedByItsLabelAndReadsItsInstanceIdAndUserData() {
        CloudInit seed = CloudInit.userData("#cloud-config\n# HORCRUX-USER-DATA says hello\nruncmd: [\"true\"]\n");
        manager.create(guestSpec(guest, "seeded").cloudInit(seed).build());
        manager.start("seeded");
        VmConsole console = manager.console("seeded");
        console.await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
        requireNetworkGuest(console);

        assertThat(run(console, "dev=$(findfs LABEL=cidata) && mount -t iso9660 -o ro \"$dev\" /mnt && echo \"seed on $dev\"",
                "MOUNTED")).as(console.output()).isEqualTo("MOUNTED=0");
        console.write("echo \"ID=$(sed -n 's/^instance-id: *//p' /mnt/meta-data)\"\n");
        assertThat(console.await(Pattern.compile("^ID=."), ANSWER)).isEqualTo("ID=seeded");
        console.write("grep HORCRUX-USER-DATA /mnt/user-data | tr a-z A-Z\n");
        assertThat(console.await(Pattern.compile("^# HORCRUX-USER-DATA SAYS"), ANSWER))
                .isEqualTo("# HORCRUX-USER-DATA SAYS HELLO");
        assertThat(run(console, "touch /mnt/written", "WRITE")).as("the seed is read-only").isNotEqualTo("WRITE=0");
    }

    /** The store, with a close that leaves it open: for a manager that hands its inventory to the next. */
    private static VmStore keptOpen(VmStore shared) {
        return (VmStore) java.lang.reflect.Proxy.newProxyInstance(VmStore.class.getClassLoader(),
                new Class<?>[] {VmStore.class}, (proxy, method, args) -> {
                    if (method.getName().equals("close")) {
                        return null;
                    }
                    try {
                        return method.invoke(shared, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void aLineServedInTheGuestIsReadOnTheHostThroughAForwardOnAChosenPortAlsoAfterAReattach() throws Exception {
        manager.close(); // the default manager, and its store: this test hands its store from one manager to the next
        store = InMemoryVmStore.create();
        manager = open(keptOpen(store), false);
        manager.create(guestSpec(guest, "served").nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 7000))).build());
        Vm vm = manager.start("served");
        List<PortForward> forwards = vm.runtime().forwards();
        assertThat(forwards).hasSize(1);
        PortForward forward = forwards.get(0);
        assertThat(forward.hostAddress()).isEqualTo("127.0.0.1");
        assertThat(forward.guestPort()).isEqualTo(7000);
        assertThat(forward.hostPort()).isBetween(1, 65535);
        assertThat(manager.find("served").orElseThrow().runtime().forwards()).containsExactly(forward);

        VmConsole console = manager.console("served");
        console.await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
        requireNetworkGuest(console);
        console.write("udhcpc -i eth0 -n -q -t 10 -T 2\n");
        assertThat(console.await(Pattern.compile("^horcrux-guest: eth0 has "), ANSWER)).isEqualTo("horcrux-guest: eth0 has 10.0.2.15");
        // One connection per nc; the loop serves the next.
        console.write("(while true; do echo HORCRUX-FORWARDED-LINE | nc -l -p 7000; done) >/dev/null 2>&1 &\n");

        assertThat(readLine(forward.hostPort(), console)).isEqualTo("HORCRUX-FORWARDED-LINE");
        assertThat(bindable(forward.hostPort())).as("QEMU holds the port").isFalse();

        // A new manager (and driver) over the same inventory and state directory reattaches.
        manager.close();
        manager = open(true);
        Vm reattached = manager.find("served").orElseThrow();
        assertThat(reattached.status()).isEqualTo(VmStatus.RUNNING);
        assertThat(reattached.runtime().forwards()).containsExactly(forward);
        assertThat(readLine(forward.hostPort(), manager.console("served"))).isEqualTo("HORCRUX-FORWARDED-LINE");
    }

    /** Connects until the guest's server answers with a line (the guest may not listen yet). */
    static String readLine(int port, VmConsole console) throws InterruptedException {
        return readLine(new InetSocketAddress("127.0.0.1", port), console);
    }

    static String readLine(InetSocketAddress at, VmConsole console) throws InterruptedException {
        long deadline = System.nanoTime() + ANSWER.toNanos();
        String last = "nothing";
        while (System.nanoTime() < deadline) {
            try (Socket socket = new Socket()) {
                socket.connect(at, 5_000);
                socket.setSoTimeout(10_000);
                String line = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8))
                        .readLine();
                if (line != null) {
                    return line;
                }
                last = "a connection closed without a line";
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(500);
        }
        throw new AssertionError("no line from " + at + " within " + ANSWER + " (last: " + last + "); console:\n"
                + console.output());
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void aSecondVmAskingForTheSameFixedHostPortFailsNamingThePortAndLeavesNoProcess() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        manager.create(guestSpec(guest, "first").nic(NicSpec.user("eth0").forward(PortForward.tcp(port, 22))).build());
        manager.create(guestSpec(guest, "second").nic(NicSpec.user("eth0").forward(PortForward.tcp(port, 22))).build());
        assertThat(manager.start("first").runtime().forwards()).extracting(PortForward::hostPort).containsExactly(port);

        assertThatThrownBy(() -> manager.start("second")).isInstanceOf(DriverException.class)
                .hasMessageContaining("127.0.0.1:" + port).hasMessageContaining("in use");
        assertThat(manager.find("second").orElseThrow().status()).isEqualTo(VmStatus.STOPPED);
        assertThat(QemuItSupport.qemuProcessesUnder(state.resolve("second"))).isEmpty();
        assertThat(manager.find("first").orElseThrow().status()).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void theSeedIsRebuiltWhenTheSpecsCloudInitChangesAndOnlyThen() throws Exception {
        // The driver alone: the manager has no way to change a spec, a driver is given one at each start.
        try (QemuDriver driver = QemuItSupport.driver(Files.createTempDirectory(root, "d"))) {
            VmSpec first = QemuItSupport.spec("rebuilt").toBuilder()
                    .cloudInit(CloudInit.userData("#cloud-config\n# FIRST-USER-DATA\n")).build();
            driver.provision(first);
            driver.start(first);
            Path seed = driver.files("rebuilt").cloudInitSeed();
            assertThat(new String(Files.readAllBytes(seed), StandardCharsets.ISO_8859_1)).contains("FIRST-USER-DATA")
                    .contains("CIDATA".toLowerCase());
            var builtAt = Files.getLastModifiedTime(seed);
            driver.stop("rebuilt", Duration.ZERO);

            driver.start(first);
            assertThat(Files.getLastModifiedTime(seed)).as("unchanged inputs: not rebuilt").isEqualTo(builtAt);
            driver.stop("rebuilt", Duration.ZERO);

            VmSpec second = first.toBuilder().cloudInit(CloudInit.userData("#cloud-config\n# SECOND-USER-DATA\n")
                    .withMetaData("instance-id: rebuilt-2\n")).build();
            driver.start(second);
            String content = new String(Files.readAllBytes(seed), StandardCharsets.ISO_8859_1);
            assertThat(content).contains("SECOND-USER-DATA").contains("instance-id: rebuilt-2").doesNotContain("FIRST-USER-DATA");
            driver.stop("rebuilt", Duration.ZERO);

            driver.start(QemuItSupport.spec("rebuilt"));
            assertThat(seed).as("a spec without cloud-init has no seed").doesNotExist();
            driver.stop("rebuilt", Duration.ZERO);
            driver.deprovision(first);
        }
    }
}
