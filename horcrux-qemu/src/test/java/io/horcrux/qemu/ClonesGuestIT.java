package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.Cancellation;
import io.horcrux.OperationCancelledException;
import io.horcrux.TemplateInUseException;
import io.horcrux.VmConsole;
import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.CloneMode;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Progress;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.TestGuest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Templates and clones seen by the real test guest on real QEMU (the accelerator the probe
 * chose), one boot per test: a linked clone boots, reads what its template holds, and its writes
 * never reach the template's image (hashed before and after); a full clone holds its source's
 * content of when it was made, a later write to the source does not reach it and the clone's
 * writes do not reach the source; a cancelled full clone leaves no row and no file. The sources'
 * content is written on the host with {@code qemu-io}; the guest reads and writes sector 2048 of
 * its disk with {@code dd}; the test reads the disks back on the host while the VMs are stopped.
 */
class ClonesGuestIT {
    private static final Duration BOOT = Duration.ofSeconds(90);
    private static final Duration ANSWER = Duration.ofSeconds(30);
    private static final int MARK_OFFSET = 1 << 20; // sector 2048
    private static TestGuest guest;
    private static Path root;

    private Path state;
    private Path work;
    private QemuDriver driver;
    private VmManager manager;
    private int answers;

    @BeforeAll
    static void locateGuest() throws Exception {
        guest = TestGuest.locate();
        root = QemuItSupport.newStateDirectory("clones-guest");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    @BeforeEach
    void open() throws Exception {
        state = Files.createTempDirectory(root, "s");
        work = Files.createTempDirectory(root, "w");
        driver = QemuDriver.builder().stateDirectory(state).qmpTimeout(Duration.ofSeconds(60)).build();
        manager = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).stopVmsOnClose(true).build();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void aLinkedCloneBootsOnItsTemplateAndItsWritesNeverReachTheTemplate() throws Exception {
        manager.create(guestSpec("golden"));
        fillOnHost("golden", 'T');
        manager.makeTemplate("golden");
        Path template = disk("golden");
        String templateHash = sha256(template);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(template))).isEqualTo("r--------");

        manager.clone("golden", "web", CloneMode.LINKED);
        assertThat(driver.qemuImg().infoJson(disk("web"), false))
                .as("an overlay on the template's image, its format recorded")
                .contains("\"backing-filename\": \"" + template + "\"").contains("\"backing-filename-format\": \"qcow2\"");
        VmConsole console = boot("web");
        assertThat(readMark(console)).as("the template's content, read through the overlay").isEqualTo("TTTTTTTT");
        writeMark(console, "CLONE-01");
        assertThat(readMark(console)).isEqualTo("CLONE-01");
        stop("web");

        assertThat(sha256(template)).as("the template's image, never written").isEqualTo(templateHash);
        assertThat(markOnHost("golden", "golden.raw")).isEqualTo("TTTTTTTT");
        assertThat(markOnHost("web", "web.raw")).isEqualTo("CLONE-01");
        assertThatThrownBy(() -> manager.delete("golden")).isInstanceOf(TemplateInUseException.class)
                .hasMessageContaining("web");
        assertThat(Files.exists(template)).isTrue();
        manager.delete("web");
        manager.delete("golden");
        assertThat(Files.exists(template)).isFalse();
    }

    @Test
    void aFullCloneIsIndependentBothWaysAndACancelledOneLeavesNothing() throws Exception {
        manager.create(guestSpec("src"));
        fillOnHost("src", 'S');
        List<Progress> progress = new CopyOnWriteArrayList<>();
        manager.clone("src", "copy", "Copy of src", CloneMode.FULL, progress::add, Cancellation.create());
        assertThat(progress).isNotEmpty();
        assertThat(progress.get(progress.size() - 1).percent()).isEqualTo(100.0);
        assertThat(driver.qemuImg().infoJson(disk("copy"), false)).as("no backing file: a copy of its own")
                .doesNotContain("backing-filename");
        fillOnHost("src", 'X'); // after the clone was made

        VmConsole console = boot("copy");
        assertThat(readMark(console)).as("the source's content of when the clone was made").isEqualTo("SSSSSSSS");
        writeMark(console, "COPY-001");
        stop("copy");
        assertThat(markOnHost("src", "src.raw")).as("the clone's writes do not reach the source").isEqualTo("XXXXXXXX");
        assertThat(markOnHost("copy", "copy.raw")).isEqualTo("COPY-001");

        Cancellation cancellation = Cancellation.create();
        assertThatThrownBy(() -> manager.clone("src", "copy-2", null, CloneMode.FULL, p -> cancellation.cancel(),
                cancellation)).isInstanceOf(OperationCancelledException.class);
        assertThat(manager.find("copy-2")).isEmpty();
        assertThat(Files.exists(state.resolve("copy-2"))).as("no directory, no disk file").isFalse();
        assertThat(driver.provisionedIds()).containsExactlyInAnyOrder("src", "copy");
        manager.delete("src");
        assertThat(manager.get("copy").status()).isEqualTo(VmStatus.STOPPED);
    }

    private VmSpec guestSpec(String id) {
        return VmSpec.builder().id(id).memoryMiB(256).cpus(1)
                .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline()))
                .disk(DiskSpec.qcow2("root", 16L << 20)).build();
    }

    private VmConsole boot(String id) {
        manager.start(id);
        VmConsole console = manager.console(id);
        console.await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
        return console;
    }

    /** Runs a command in the guest and returns what it printed on its one line of answer. */
    private String answer(VmConsole console, String command) {
        String tag = "clone" + (++answers);
        console.write("echo \"" + tag + ":$(" + command + ")\"\n");
        String line = console.await(Pattern.compile("^" + tag + ":"), ANSWER);
        return line.substring(tag.length() + 1).strip();
    }

    /** The guest writes {@code mark} at sector 2048 of its disk and syncs. */
    private void writeMark(VmConsole console, String mark) {
        assertThat(answer(console, "printf '" + mark + "' | dd of=/dev/vda bs=512 seek=2048 conv=notrunc"
                + " 2>/dev/null; sync; echo rc=$?")).as("the guest's write; console:\n%s", console.output()).isEqualTo("rc=0");
    }

    /** The 8 bytes at sector 2048 as the guest reads them. */
    private String readMark(VmConsole console) {
        return answer(console, "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c 8");
    }

    private void stop(String id) {
        assertThat(manager.stop(id, Duration.ofSeconds(60)).status()).isEqualTo(VmStatus.STOPPED);
    }

    private Path disk(String id) {
        return driver.files(id).disk(manager.get(id).spec().disks().get(0));
    }

    /** Writes 512 bytes of {@code c} at sector 2048 of the stopped VM's disk, on the host, through qemu-io. */
    private void fillOnHost(String id, char c) throws Exception {
        String qemuIo = driver.qemuImg().binary().resolveSibling("qemu-io").toString();
        List<String> command = new ArrayList<>(List.of(qemuIo, "-f", "qcow2", "-c",
                "write -P 0x" + Integer.toHexString(c) + " " + MARK_OFFSET + " 512", disk(id).toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("qemu-io: %s", out).isZero();
    }

    /** The 8 bytes at sector 2048 of the VM's stopped disk, read on the host. */
    private String markOnHost(String id, String rawName) throws IOException {
        Path raw = work.resolve(rawName);
        driver.qemuImg().convert(disk(id), DiskFormat.QCOW2, raw, DiskFormat.RAW, p -> { });
        byte[] bytes = Files.readAllBytes(raw);
        Files.delete(raw);
        return new String(bytes, MARK_OFFSET, 8, StandardCharsets.US_ASCII);
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
