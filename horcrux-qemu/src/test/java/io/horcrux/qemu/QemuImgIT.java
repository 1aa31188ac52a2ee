package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.model.DiskFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** qemu-img for real: create, info, resize, convert with progress, and its failures. */
class QemuImgIT {
    private static QemuImg IMG;

    @TempDir
    Path dir;

    @org.junit.jupiter.api.BeforeAll
    static void findQemuImgAsTheDriverDoes(@TempDir Path state) {
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build()) {
            IMG = driver.qemuImg();
        }
    }

    @Test
    void createInfoAndResize() {
        Path image = dir.resolve("a.qcow2");
        IMG.create(image, DiskFormat.QCOW2, 64L << 20);
        QemuImg.Info info = IMG.info(image);
        assertThat(info.format()).isEqualTo("qcow2");
        assertThat(info.virtualSize()).isEqualTo(64L << 20);
        assertThat(info.actualSize()).isPositive();

        IMG.resize(image, DiskFormat.QCOW2, 128L << 20);
        assertThat(IMG.info(image).virtualSize()).isEqualTo(128L << 20);
    }

    @Test
    void convertReportsProgressUpToOneHundred() throws Exception {
        Path raw = dir.resolve("src.raw");
        IMG.create(raw, DiskFormat.RAW, 32L << 20);
        try (var channel = java.nio.channels.FileChannel.open(raw, java.nio.file.StandardOpenOption.WRITE)) {
            channel.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}), 16L << 20); // some data to copy
        }
        Path qcow2 = dir.resolve("dst.qcow2");
        List<Double> progress = new CopyOnWriteArrayList<>();
        IMG.convert(raw, DiskFormat.RAW, qcow2, DiskFormat.QCOW2, progress::add);
        assertThat(progress).isNotEmpty().isSorted();
        assertThat(progress.get(progress.size() - 1)).isEqualTo(100.0);
        assertThat(IMG.info(qcow2).format()).isEqualTo("qcow2");
        assertThat(IMG.info(qcow2).virtualSize()).isEqualTo(32L << 20);
    }

    @Test
    void theProgressParserReadsQemuImgOutput() throws Exception {
        List<Double> seen = new CopyOnWriteArrayList<>();
        String rest = QemuImg.readProgress(new java.io.ByteArrayInputStream(
                "    (0.00/100%)\r    (12.50/100%)\r    (100.00/100%)\r\nsomething else\n".getBytes()), seen::add);
        assertThat(seen).containsExactly(0.0, 12.5, 100.0);
        assertThat(rest).contains("something else");
    }

    @Test
    void failuresCarryQemuImgsMessageAndLeaveNoPartialTarget() throws Exception {
        Path missing = dir.resolve("missing.qcow2");
        Path target = dir.resolve("out.raw");
        assertThatThrownBy(() -> IMG.convert(missing, DiskFormat.QCOW2, target, DiskFormat.RAW, p -> { }))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("missing.qcow2");
        assertThat(target).doesNotExist();
        assertThatThrownBy(() -> IMG.info(missing)).isInstanceOf(DriverException.class).hasMessageContaining("missing.qcow2");

        Path existing = Files.createFile(dir.resolve("exists.qcow2"));
        assertThatThrownBy(() -> IMG.create(existing, DiskFormat.QCOW2, 1L << 20)).isInstanceOf(DriverException.class)
                .hasMessageContaining("exists");
        assertThat(Files.size(existing)).isZero();
    }

    @Test
    void pathsThatCouldBeReadAsOptionsOrProtocolsAreRefused() {
        assertThatThrownBy(() -> IMG.create(Path.of("-f"), DiskFormat.RAW, 1L << 20)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> IMG.create(Path.of("nbd:host:1"), DiskFormat.RAW, 1L << 20)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> IMG.create(dir.resolve("../x.raw"), DiskFormat.RAW, 1L << 20)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> IMG.create(dir.resolve("x\n.raw"), DiskFormat.RAW, 1L << 20)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> IMG.create(dir.resolve("x.raw"), DiskFormat.RAW, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(dir).isEmptyDirectory();
    }
}
