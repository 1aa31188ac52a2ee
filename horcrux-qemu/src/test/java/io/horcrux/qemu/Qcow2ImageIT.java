package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.model.DiskFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver's own qcow2 images against the real {@code qemu-img}: each passes {@code qemu-img
 * check}, has the size {@code qemu-img info} expects, and the same content as the image
 * {@code qemu-img create} makes of the same size; a guest writes to one in {@code QemuManagerIT}
 * and the lifecycle tests.
 */
class Qcow2ImageIT {
    private static QemuImg img;
    private static String binary;

    @TempDir
    Path dir;

    @BeforeAll
    static void findQemuImgAsTheDriverDoes(@TempDir Path state) {
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build()) {
            img = driver.qemuImg();
        }
        binary = img.binary().toString();
    }

    @Test
    void everySizeIsAValidImageWithTheContentQemuImgGives() throws Exception {
        for (long size : new long[] {1L << 20, 64L << 20, (1L << 30) + 512, 513L << 20, 8L << 30, 1L << 40,
                1L << 46}) {
            Path ours = dir.resolve("ours-" + size + ".qcow2");
            Path theirs = dir.resolve("theirs-" + size + ".qcow2");
            Qcow2Image.create(ours, size);
            img.create(theirs, DiskFormat.QCOW2, size);

            assertThat(run("check", "-f", "qcow2", ours.toString())).as("check of %d bytes", size).isZero();
            QemuImg.Info info = img.info(ours);
            assertThat(info.format()).isEqualTo("qcow2");
            assertThat(info.virtualSize()).isEqualTo(size);
            assertThat(run("compare", "-f", "qcow2", "-F", "qcow2", ours.toString(), theirs.toString()))
                    .as("compare of %d bytes", size).isZero();
            assertThat(Files.size(ours)).isLessThanOrEqualTo(Files.size(theirs) + 65_536);
        }
    }

    @Test
    void anImageWrittenThroughQemuKeepsItsData() throws Exception {
        Path image = dir.resolve("rw.qcow2");
        Qcow2Image.create(image, 64L << 20);
        // qemu-io (qemu-utils, beside qemu-img) writes through QEMU's qcow2 driver: L2 tables and
        // data clusters allocated, refcounts grown, in the image as the driver wrote it.
        String qemuIo = Path.of(binary).resolveSibling("qemu-io").toString();
        assertThat(runTool(qemuIo, "-f", "qcow2", "-c", "write -P 0xab 0 3M", "-c", "write -P 0x5c 60M 1M",
                image.toString())).isZero();
        assertThat(run("check", "-f", "qcow2", image.toString())).isZero();
        assertThat(runTool(qemuIo, "-f", "qcow2", "-c", "read -P 0xab 0 3M", "-c", "read -P 0 3M 57M",
                "-c", "read -P 0x5c 60M 1M", image.toString())).isZero();
        assertThat(img.info(image).virtualSize()).isEqualTo(64L << 20);
    }

    @Test
    void anOverlayReadsItsBaseWithTheRecordedFormatAndWritesOnlyToItself() throws Exception {
        String qemuIo = Path.of(binary).resolveSibling("qemu-io").toString();
        for (String format : new String[] {"qcow2", "raw"}) {
            Path base = dir.resolve("base-" + format + "." + format);
            img.create(base, format.equals("raw") ? DiskFormat.RAW : DiskFormat.QCOW2, 64L << 20);
            assertThat(runTool(qemuIo, "-f", format, "-c", "write -P 0x3c 1M 2M", base.toString())).isZero();
            String baseBefore = sha256(base);
            Path ours = dir.resolve("ours-on-" + format + ".qcow2");
            Path theirs = dir.resolve("theirs-on-" + format + ".qcow2");
            Qcow2Image.createOverlay(ours, 64L << 20, base, format);
            img.createOverlay(theirs, base, format, 64L << 20);

            assertThat(run("check", "-f", "qcow2", ours.toString())).as("check on %s", format).isZero();
            String info = img.infoJson(ours, false);
            assertThat(info).contains("\"backing-filename\": \"" + base + "\"")
                    .contains("\"backing-filename-format\": \"" + format + "\"").contains("\"virtual-size\": " + (64L << 20));
            assertThat(run("compare", "-f", "qcow2", "-F", "qcow2", ours.toString(), theirs.toString()))
                    .as("the same content as qemu-img's overlay on %s", format).isZero();
            assertThat(runTool(qemuIo, "-f", "qcow2", "-c", "write -P 0x99 0 1M", "-c", "write -P 0x77 2M 64k",
                    ours.toString())).isZero();
            assertThat(runTool(qemuIo, "-f", "qcow2", "-c", "read -P 0x99 0 1M", "-c", "read -P 0x3c 1M 1M",
                    "-c", "read -P 0x77 2M 64k", "-c", "read -P 0x3c 2162688 983040", "-c", "read -P 0 3M 61M",
                    ours.toString())).as("the overlay's writes over its base's content").isZero();
            assertThat(run("check", "-f", "qcow2", ours.toString())).isZero();
            assertThat(sha256(base)).as("the base, never written").isEqualTo(baseBefore);
            assertThat(Qcow2Image.virtualSize(ours)).isEqualTo(64L << 20);
        }
        assertThatThrownBy(() -> Qcow2Image.virtualSize(dir.resolve("base-raw.raw"))).isInstanceOf(DriverException.class)
                .hasMessageContaining("not a qcow2");
    }

    private static String sha256(Path file) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(file)));
    }

    @Test
    void anExistingFileIsRefusedAndLeftAlone() throws IOException {
        Path image = dir.resolve("taken.qcow2");
        Files.writeString(image, "mine");
        assertThatThrownBy(() -> Qcow2Image.create(image, 64L << 20)).isInstanceOf(DriverException.class)
                .hasMessageContaining("exists");
        assertThat(Files.readString(image)).isEqualTo("mine");
    }

    private static int run(String... args) throws IOException, InterruptedException {
        return runTool(binary, args);
    }

    private static int runTool(String tool, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(tool);
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        if (p.exitValue() != 0 || out.contains("Pattern verification failed")) {
            System.err.println(String.join(" ", command) + ": " + out);
            return p.exitValue() == 0 ? 1 : p.exitValue();
        }
        return 0;
    }
}
