package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.Cancellation;
import io.horcrux.DriverException;
import io.horcrux.OperationCancelledException;
import io.horcrux.VmManager;
import io.horcrux.internal.HostProcess;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.testkit.InMemoryVmStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Source images the QEMU driver refuses, through a manager: each refusal is a
 * {@link DriverException} naming the disk's field and the rule, before anything is written: no
 * row, no VM directory, no process. And a copy cancelled through the manager leaves nothing.
 */
class ImageInputIT {
    private static Path root;
    private Path state;
    private Path images;
    private QemuDriver driver;
    private VmManager manager;

    @BeforeAll
    static void makeRoot() throws Exception {
        root = QemuItSupport.newStateDirectory("image-input");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    @BeforeEach
    void open() throws Exception {
        state = Files.createTempDirectory(root, "s");
        images = Files.createTempDirectory(root, "images");
        driver = QemuItSupport.driver(state);
        manager = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).build();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private Path raw(String name, int bytes) throws Exception {
        byte[] content = new byte[bytes];
        new Random(7).nextBytes(content);
        return Files.write(images.resolve(name), content);
    }

    private Path qcow2On(String name, Path base) {
        Path image = images.resolve(name);
        driver.qemuImg().createOverlay(image, base, "raw", 0);
        return image;
    }

    private VmSpec spec(String id, DiskSpec... disks) {
        VmSpec.Builder b = VmSpec.builder().id(id).memoryMiB(64).disk(DiskSpec.qcow2("root", 16L << 20));
        for (DiskSpec disk : disks) {
            b.disk(disk);
        }
        return b.build();
    }

    /** The create is refused naming each message part, and nothing is left of it. */
    private void refused(VmSpec spec, String... messageParts) {
        assertThatThrownBy(() -> manager.create(spec)).isInstanceOf(DriverException.class)
                .hasMessageContainingAll(messageParts);
        nothingLeftOf(spec.id());
    }

    private void nothingLeftOf(String id) {
        assertThat(manager.find(id)).as("no row").isEmpty();
        assertThat(state.resolve(id)).as("no VM directory").doesNotExist();
        assertThat(QemuItSupport.qemuProcessesUnder(state.resolve(id))).as("no process").isEmpty();
        assertThat(HostProcess.find(args -> args.get(0).contains("qemu-img")
                && args.stream().anyMatch(a -> a.contains(state.resolve(id).toString())))).as("no qemu-img").isEmpty();
    }

    @Test
    void missingDirectoryDeviceUnreadableAndNotAnImageAreRefused() throws Exception {
        Path unreadable = raw("unreadable.img", 1 << 20);
        Files.setPosixFilePermissions(unreadable, Set.of());
        byte[] corrupt = new byte[1 << 16];
        System.arraycopy(new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 9}, 0, corrupt, 0, 8);
        Path notAnImage = Files.write(images.resolve("corrupt.qcow2"), corrupt);
        refused(spec("missing", DiskSpec.overlay("base", images.resolve("nope.img"))), "disks[1].source", "does not exist");
        refused(spec("directory", DiskSpec.copyOf("copy", images)), "disks[1].source", "is a directory");
        refused(spec("device", DiskSpec.cdrom("media", Path.of("/dev/null"))), "disks[1].source", "is a device");
        refused(spec("unreadable", DiskSpec.overlay("base", unreadable)), "disks[1].source", "must be readable");
        refused(spec("corrupt", DiskSpec.overlay("base", notAnImage)), "disks[1].source", "must be an image QEMU reads",
                "Unsupported qcow2 version 9");
        refused(spec("empty", DiskSpec.copyOf("copy", Files.createFile(images.resolve("empty.img")))),
                "disks[1].source", "is empty");
    }

    @Test
    void aQcow2WhoseBackingFileIsMissingOrHasNoRecordedFormatIsRefused() throws Exception {
        Path base = raw("base.img", 1 << 20);
        Path orphan = qcow2On("orphan.qcow2", base);
        Files.delete(base);
        refused(spec("orphan", DiskSpec.overlay("root2", orphan)), "disks[1].source", "backing file " + base, "does not exist");

        Path base2 = raw("base2.img", 1 << 20);
        Path unrecorded = qcow2On("unrecorded.qcow2", base2);
        forgetBackingFormat(unrecorded);
        assertThat(driver.qemuImg().infoJson(unrecorded, false)).doesNotContain("backing-filename-format");
        refused(spec("unrecorded", DiskSpec.copyOf("copy", unrecorded)), "disks[1].source",
                "must record the format of each backing file");
    }

    @Test
    void anImageInsideTheStateDirectoryOrBackedByOneThereIsRefused() throws Exception {
        manager.create(spec("other"));
        Path othersDisk = state.resolve("other").resolve("root.qcow2");
        refused(spec("thief", DiskSpec.overlay("stolen", othersDisk)), "disks[1].source",
                "inside the driver's state directory");
        Path link = Files.createSymbolicLink(images.resolve("innocent.qcow2"), othersDisk);
        refused(spec("linked", DiskSpec.copyOf("stolen", link)), "disks[1].source", "inside the driver's state directory");
        Path backedByOther = images.resolve("backed.qcow2");
        driver.qemuImg().createOverlay(backedByOther, othersDisk, "qcow2", 0);
        refused(spec("backed", DiskSpec.overlay("stolen", backedByOther)), "disks[1].source",
                "backing file " + othersDisk, "inside the driver's state directory");
        manager.delete("other");
    }

    @Test
    void aQcow2CdromASmallerDiskThanItsSourceAndEveryProblemAtOnceAreRefused() throws Exception {
        Path base = raw("base.img", 8 << 20);
        Path qcow2 = qcow2On("disk.qcow2", base);
        refused(spec("cd", DiskSpec.cdrom("media", qcow2)), "disks[1].source", "a CD-ROM's image must be raw", "is qcow2");
        refused(spec("small", DiskSpec.overlay("root2", base).withSizeBytes(4L << 20)), "disks[1].sizeBytes",
                "must not be smaller than the source's " + (8 << 20) + " bytes");
        refused(spec("several", DiskSpec.overlay("a", images.resolve("gone.img")), DiskSpec.copyOf("b", images),
                DiskSpec.cdrom("c", qcow2)), "disks[1].source", "disks[2].source", "disks[3].source");
    }

    @Test
    void aCopyCancelledThroughTheManagerLeavesNoRowNoFileNoProcess() throws Exception {
        Path source = raw("golden.img", 64 << 20);
        Cancellation cancellation = Cancellation.create();
        VmSpec spec = spec("cancelled", DiskSpec.copyOf("copy", source));
        assertThatThrownBy(() -> manager.create(spec, progress -> cancellation.cancel(), cancellation))
                .isInstanceOf(OperationCancelledException.class).hasMessageContaining("cancelled");
        nothingLeftOf("cancelled");
        assertThat(manager.count(VmQuery.all())).isZero();
        manager.create(spec); // nothing of the cancelled create is in the way
        assertThat(manager.get("cancelled").spec().disks().get(1).kind()).isEqualTo(io.horcrux.model.DiskKind.COPY);
        assertThat(driver.qemuImg().info(state.resolve("cancelled").resolve("copy.qcow2")).virtualSize()).isEqualTo(64L << 20);
        manager.delete("cancelled");
        try (Stream<Path> left = Files.list(images)) {
            assertThat(left).containsExactly(source);
        }
    }

    /** Renames the overlay's backing-format header extension to one QEMU does not know (it skips those). */
    private static void forgetBackingFormat(Path qcow2) throws Exception {
        byte[] bytes = Files.readAllBytes(qcow2);
        byte[] magic = {(byte) 0xE2, (byte) 0x79, (byte) 0x2A, (byte) 0xCA};
        for (int i = 72; i < Math.min(bytes.length, 65536) - 4; i++) {
            if (bytes[i] == magic[0] && bytes[i + 1] == magic[1] && bytes[i + 2] == magic[2] && bytes[i + 3] == magic[3]) {
                bytes[i] = 0x0f; // an unknown extension type
                Files.write(qcow2, bytes);
                return;
            }
        }
        throw new AssertionError("no backing format extension in " + qcow2);
    }

}
