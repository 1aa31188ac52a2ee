package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.Cancellation;
import io.horcrux.OperationCancelledException;
import io.horcrux.TemplateInUseException;
import io.horcrux.VmConsole;
import io.horcrux.model.CloneMode;
import io.horcrux.model.Progress;
import io.horcrux.model.VmStatus;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

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
    @RegisterExtension
    static final GuestSession session = GuestSession.register("clones-guest", Duration.ofSeconds(60));

    @Test
    void aLinkedCloneBootsOnItsTemplateAndItsWritesNeverReachTheTemplate() throws Exception {
        session.manager().create(session.guestSpec("golden"));
        fillOnHost("golden", 'T');
        session.manager().makeTemplate("golden");
        Path template = session.disk("golden");
        String templateHash = sha256(template);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(template))).isEqualTo("r--------");

        session.manager().clone("golden", "web", CloneMode.LINKED);
        assertThat(session.driver().qemuImg().infoJson(session.disk("web"), false))
                .as("an overlay on the template's image, its format recorded")
                .contains("\"backing-filename\": \"" + template + "\"").contains("\"backing-filename-format\": \"qcow2\"");
        VmConsole console = session.boot("web");
        assertThat(session.readMark(console, "/dev/vda")).as("the template's content, read through the overlay").isEqualTo("TTTTTTTT");
        session.writeMark(console, "/dev/vda", "CLONE-01");
        assertThat(session.readMark(console, "/dev/vda")).isEqualTo("CLONE-01");
        session.stop("web");

        assertThat(sha256(template)).as("the template's image, never written").isEqualTo(templateHash);
        assertThat(session.markOnHost("golden", "golden.raw")).isEqualTo("TTTTTTTT");
        assertThat(session.markOnHost("web", "web.raw")).isEqualTo("CLONE-01");
        assertThatThrownBy(() -> session.manager().delete("golden")).isInstanceOf(TemplateInUseException.class)
                .hasMessageContaining("web");
        assertThat(Files.exists(template)).isTrue();
        session.manager().delete("web");
        session.manager().delete("golden");
        assertThat(Files.exists(template)).isFalse();
    }

    @Test
    void aFullCloneIsIndependentBothWaysAndACancelledOneLeavesNothing() throws Exception {
        session.manager().create(session.guestSpec("src"));
        fillOnHost("src", 'S');
        List<Progress> progress = new CopyOnWriteArrayList<>();
        session.manager().clone("src", "copy", "Copy of src", CloneMode.FULL, progress::add, Cancellation.create());
        assertThat(progress).isNotEmpty();
        assertThat(progress.get(progress.size() - 1).percent()).isEqualTo(100.0);
        assertThat(session.driver().qemuImg().infoJson(session.disk("copy"), false)).as("no backing file: a copy of its own")
                .doesNotContain("backing-filename");
        fillOnHost("src", 'X'); // after the clone was made

        VmConsole console = session.boot("copy");
        assertThat(session.readMark(console, "/dev/vda")).as("the source's content of when the clone was made").isEqualTo("SSSSSSSS");
        session.writeMark(console, "/dev/vda", "COPY-001");
        session.stop("copy");
        assertThat(session.markOnHost("src", "src.raw")).as("the clone's writes do not reach the source").isEqualTo("XXXXXXXX");
        assertThat(session.markOnHost("copy", "copy.raw")).isEqualTo("COPY-001");

        Cancellation cancellation = Cancellation.create();
        assertThatThrownBy(() -> session.manager().clone("src", "copy-2", null, CloneMode.FULL, p -> cancellation.cancel(),
                cancellation)).isInstanceOf(OperationCancelledException.class);
        assertThat(session.manager().find("copy-2")).isEmpty();
        assertThat(Files.exists(session.state().resolve("copy-2"))).as("no directory, no disk file").isFalse();
        assertThat(session.driver().provisionedIds()).containsExactlyInAnyOrder("src", "copy");
        session.manager().delete("src");
        assertThat(session.manager().get("copy").status()).isEqualTo(VmStatus.STOPPED);
    }

    /** Writes 512 bytes of {@code c} at sector 2048 of the stopped VM's disk, on the host, through qemu-io. */
    private void fillOnHost(String id, char c) throws Exception {
        String qemuIo = session.driver().qemuImg().binary().resolveSibling("qemu-io").toString();
        List<String> command = new ArrayList<>(List.of(qemuIo, "-f", "qcow2", "-c",
                "write -P 0x" + Integer.toHexString(c) + " " + GuestSession.MARK_OFFSET + " 512", session.disk(id).toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("qemu-io: %s", out).isZero();
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
