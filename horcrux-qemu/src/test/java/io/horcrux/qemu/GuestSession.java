package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmConsole;
import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.TestGuest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One test's manager for booting the test guest: a QEMU driver on a fresh state directory, an
 * in-memory inventory, a scratch directory, and the console steps the guest tests share (boot
 * to the readiness line, a command's one line of answer, a mark written at sector 2048 of a
 * disk and read back on the host). The manager stops the VMs a test left running.
 */
final class GuestSession implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
    static final Duration BOOT = Duration.ofSeconds(90);
    static final Duration ANSWER = Duration.ofSeconds(30);
    /** Where the guest writes its marks: sector 2048. */
    static final int MARK_OFFSET = 1 << 20;

    private final String name;
    private final Duration qmpTimeout;
    private TestGuest guest;
    private Path root;
    private Path state;
    private Path work;
    private QemuDriver driver;
    private VmManager manager;
    private int answers;

    private GuestSession(String name, Duration qmpTimeout) {
        this.name = name;
        this.qmpTimeout = qmpTimeout;
    }

    /**
     * Sessions for a test class, registered as a static extension field: the class's state
     * directory is {@code name} under the ITs' root, each test gets its own manager, and the class
     * fails if it left a QEMU process running there.
     */
    static GuestSession register(String name, Duration qmpTimeout) {
        return new GuestSession(name, qmpTimeout);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        guest = TestGuest.locate();
        root = QemuItSupport.newStateDirectory(name);
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        answers = 0;
        state = Files.createTempDirectory(root, "s");
        work = Files.createTempDirectory(root, "w");
        driver = QemuDriver.builder().stateDirectory(state).qmpTimeout(qmpTimeout).build();
        manager = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).stopVmsOnClose(true).build();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        manager.close();
        // The test's VMs are left as it made them; their files go now, with any socket directory
        // they had under /tmp (a checkout whose path is long puts them there).
        try (QemuDriver sweeper = QemuDriver.builder().stateDirectory(state).build()) {
            for (String id : sweeper.provisionedIds()) {
                sweeper.removeOrphan(id);
            }
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    TestGuest guest() {
        return guest;
    }

    /** This test's driver's state directory. */
    Path state() {
        return state;
    }

    /** A scratch directory of this test's. */
    Path work() {
        return work;
    }

    QemuDriver driver() {
        return driver;
    }

    VmManager manager() {
        return manager;
    }

    /** A 256 MiB, one-vCPU VM that boots the test guest's kernel, with {@code disks}. */
    VmSpec guestSpec(String id, DiskSpec... disks) {
        VmSpec.Builder b = VmSpec.builder().id(id).memoryMiB(256).cpus(1)
                .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline()));
        for (DiskSpec disk : disks) {
            b.disk(disk);
        }
        return b.build();
    }

    /** A guest VM with one 16 MiB qcow2 disk named {@code root}. */
    VmSpec guestSpec(String id) {
        return guestSpec(id, DiskSpec.qcow2("root", 16L << 20));
    }

    /** Starts the VM and waits for the guest's readiness line on its console. */
    VmConsole boot(String id) {
        manager.start(id);
        VmConsole console = manager.console(id);
        console.await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
        return console;
    }

    /** Runs a command in the guest and returns what it printed on its one line of answer. */
    String answer(VmConsole console, String command) {
        String tag = "ans" + (++answers);
        console.write("echo \"" + tag + ":$(" + command + ")\"\n");
        String line = console.await(Pattern.compile("^" + tag + ":"), ANSWER);
        return line.substring(tag.length() + 1).strip();
    }

    /** The guest writes {@code mark} at sector 2048 of {@code device} and syncs. */
    void writeMark(VmConsole console, String device, String mark) {
        assertThat(answer(console, "printf '" + mark + "' | dd of=" + device + " bs=512 seek=2048 conv=notrunc"
                + " 2>/dev/null; sync; echo rc=$?")).as("the guest's write; console:\n%s", console.output()).isEqualTo("rc=0");
    }

    /** The 8 bytes at sector 2048 of {@code device}, as the guest reads them. */
    String readMark(VmConsole console, String device) {
        return answer(console, "dd if=" + device + " bs=512 skip=2048 count=1 2>/dev/null | head -c 8");
    }

    /** Stops the VM, giving the guest up to a minute to power off. */
    void stop(String id) {
        assertThat(manager.stop(id, Duration.ofSeconds(60)).status()).isEqualTo(VmStatus.STOPPED);
    }

    /** The image file of the VM's first disk. */
    Path disk(String id) {
        return driver.files(id).disk(manager.get(id).spec().disks().get(0));
    }

    /** The 8 bytes at sector 2048 of the stopped VM's first disk, read on the host. */
    String markOnHost(String id, String rawName) throws IOException {
        Path raw = work.resolve(rawName);
        driver.qemuImg().convert(disk(id), DiskFormat.QCOW2, raw, DiskFormat.RAW, p -> { });
        byte[] bytes = Files.readAllBytes(raw);
        Files.delete(raw);
        return new String(bytes, MARK_OFFSET, 8, StandardCharsets.US_ASCII);
    }
}
