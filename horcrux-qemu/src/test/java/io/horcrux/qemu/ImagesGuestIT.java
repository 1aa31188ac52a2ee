package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.Cancellation;
import io.horcrux.VmConsole;
import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Progress;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Disks made from images, seen by the real test guest on real QEMU (the accelerator the probe
 * chose, q35): an overlay reads its base and takes the guest's writes while the base's bytes stay
 * the same; a full copy is independent of its source both ways; a CD-ROM is an ISO 9660 volume the
 * guest mounts and cannot write, and a bootable ISO the firmware boots when the boot order puts the
 * CD-ROM first. The guest writes through its console with {@code dd} and
 * {@code sync}; the test reads the images back on the host after a graceful stop.
 */
class ImagesGuestIT {
    @RegisterExtension
    static final GuestSession session = GuestSession.register("images-guest", Duration.ofSeconds(30));
    private static final int IMAGE_BYTES = 8 << 20;
    private static final long HOST_WRITE_OFFSET = 2 << 20; // sector 4096

    @Test
    void anOverlayReadsItsBaseTakesTheGuestsWritesAndLeavesTheBaseUnchanged() throws Exception {
        Path base = randomImage("base.img");
        String baseHash = sha256(base);
        session.manager().create(session.guestSpec("overlay", DiskSpec.overlay("root", base),
                DiskSpec.overlay("big", base).withSizeBytes(32L << 20)));
        Path overlay = session.driver().files("overlay").disk(session.manager().get("overlay").spec().disks().get(0));
        assertThat(session.driver().qemuImg().infoJson(overlay, false)).as("the base's format, recorded in the overlay")
                .contains("\"backing-filename-format\": \"raw\"");

        VmConsole console = session.boot("overlay");
        assertThat(session.answer(console, "dd if=/dev/vda bs=1M count=1 2>/dev/null | md5sum | cut -c1-32"))
                .as("the guest reads the base through the overlay").isEqualTo(md5(base, 0, 1 << 20));
        assertThat(session.answer(console, "cat /sys/block/vdb/size")).as("the larger overlay, in sectors")
                .isEqualTo(Long.toString((32L << 20) / 512));
        session.writeMark(console, "/dev/vda", "OVERLAY-MARK-7f3a");
        assertThat(session.answer(console, "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c 17"))
                .isEqualTo("OVERLAY-MARK-7f3a");
        session.stop("overlay");

        assertThat(sha256(base)).as("the base's bytes after the guest wrote to its disk").isEqualTo(baseHash);
        byte[] seen = rawContent(overlay, "overlay.raw");
        assertThat(new String(seen, GuestSession.MARK_OFFSET, 17, StandardCharsets.US_ASCII)).isEqualTo("OVERLAY-MARK-7f3a");
        assertThat(Arrays.copyOf(seen, 1 << 20)).as("the rest is still the base's")
                .isEqualTo(Arrays.copyOf(Files.readAllBytes(base), 1 << 20));
        session.manager().delete("overlay");
        assertThat(base).exists();
        assertThat(sha256(base)).isEqualTo(baseHash);
    }

    @Test
    void aFullCopyIsIndependentOfItsSourceBothWaysAndReportsItsProgress() throws Exception {
        Path source = randomImage("golden.img");
        byte[] original = Files.readAllBytes(source);
        List<Progress> progress = new CopyOnWriteArrayList<>();
        session.manager().create(session.guestSpec("copy", DiskSpec.copyOf("root", source)), progress::add, Cancellation.create());
        assertThat(progress).isNotEmpty().allSatisfy(p -> assertThat(p.disk()).isEqualTo("root"));
        assertThat(progress.get(progress.size() - 1).percent()).isEqualTo(100.0);
        Path copy = session.driver().files("copy").disk(session.manager().get("copy").spec().disks().get(0));
        String info = session.driver().qemuImg().infoJson(copy, false);
        assertThat(info).contains("\"format\": \"qcow2\"").doesNotContain("backing-filename");

        // The source changes after the copy: the guest must not see it.
        byte[] hostMark = "HOST-AFTER-COPY-91".getBytes(StandardCharsets.US_ASCII);
        try (var channel = java.nio.channels.FileChannel.open(source, java.nio.file.StandardOpenOption.WRITE)) {
            channel.write(java.nio.ByteBuffer.wrap(hostMark), HOST_WRITE_OFFSET);
        }
        String sourceHash = sha256(source);
        VmConsole console = session.boot("copy");
        assertThat(session.answer(console, "dd if=/dev/vda bs=512 skip=4096 count=1 2>/dev/null | md5sum | cut -c1-32"))
                .as("the copy keeps the source's bytes of when it was made")
                .isEqualTo(md5(original, (int) HOST_WRITE_OFFSET, 512));
        session.writeMark(console, "/dev/vda", "COPY-MARK-c0ffee");
        session.stop("copy");

        assertThat(sha256(source)).as("the guest's write did not reach the source").isEqualTo(sourceHash);
        byte[] seen = rawContent(copy, "copy.raw");
        assertThat(new String(seen, GuestSession.MARK_OFFSET, 16, StandardCharsets.US_ASCII)).isEqualTo("COPY-MARK-c0ffee");
        assertThat(Arrays.copyOfRange(seen, (int) HOST_WRITE_OFFSET, (int) HOST_WRITE_OFFSET + hostMark.length))
                .isEqualTo(Arrays.copyOfRange(original, (int) HOST_WRITE_OFFSET, (int) HOST_WRITE_OFFSET + hostMark.length));
    }

    @Test
    void aCdromIsAnIso9660VolumeTheGuestMountsAndCannotWrite() throws Exception {
        Path content = Files.createDirectory(session.work().resolve("cd"));
        Files.writeString(content.resolve("hello.txt"), "CDROM-CONTENT-42\n");
        Path iso = session.work().resolve("media.iso");
        genisoimage("-quiet", "-V", "HORCRUX", "-o", iso.toString(), content.toString());
        String isoHash = sha256(iso);
        session.manager().create(session.guestSpec("media", DiskSpec.qcow2("root", 16L << 20), DiskSpec.cdrom("media", iso)));

        VmConsole console = session.boot("media");
        assertThat(session.answer(console, "for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/sr0 ] && break; sleep 1; done;"
                + " cat /sys/block/sr0/ro")).as("the CD-ROM is read-only").isEqualTo("1");
        assertThat(session.answer(console, "mkdir -p /tmp/cd && mount -t iso9660 -o ro /dev/sr0 /tmp/cd && cat /tmp/cd/hello.txt"))
                .isEqualTo("CDROM-CONTENT-42");
        assertThat(session.answer(console, "dd if=/dev/zero of=/dev/sr0 bs=2048 count=1 conv=fsync 2>/dev/null; echo rc=$?"))
                .as("a write to the CD-ROM fails").isNotEqualTo("rc=0").startsWith("rc=");
        session.stop("media");
        assertThat(sha256(iso)).isEqualTo(isoHash);
        session.manager().delete("media");
        assertThat(iso).exists();
    }

    @Test
    void aVmWhoseBootOrderPutsTheCdromFirstBootsTheTestGuestFromItsIso() throws Exception {
        Path tree = Files.createDirectory(session.work().resolve("boot"));
        Files.copy(Path.of("/usr/lib/ISOLINUX/isolinux.bin"), tree.resolve("isolinux.bin"));
        Files.copy(Path.of("/usr/lib/syslinux/modules/bios/ldlinux.c32"), tree.resolve("ldlinux.c32"));
        Files.copy(session.guest().kernel(), tree.resolve("vmlinuz"));
        Files.copy(session.guest().initrd(), tree.resolve("initrd.gz"));
        Files.writeString(tree.resolve("isolinux.cfg"), "DEFAULT guest\nPROMPT 0\nTIMEOUT 0\nLABEL guest\n"
                + "  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz " + session.guest().cmdline() + " horcrux.booted=cdrom\n");
        Path iso = session.work().resolve("boot.iso");
        genisoimage("-quiet", "-V", "HORCRUX-BOOT", "-R", "-J", "-o", iso.toString(), "-b", "isolinux.bin", "-c", "boot.cat",
                "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", tree.toString());
        String isoHash = sha256(iso);
        session.manager().create(VmSpec.builder().id("install").memoryMiB(256).cpus(1)
                .disk(DiskSpec.qcow2("root", 16L << 20)).disk(DiskSpec.cdrom("installer", iso))
                .boot(BootSpec.devices(BootDevice.CDROM, BootDevice.DISK)).build());

        VmConsole console = session.boot("install");
        assertThat(session.answer(console, "cat /proc/cmdline")).as("the kernel and command line the ISO's boot loader gave")
                .contains("horcrux.booted=cdrom");
        session.stop("install");
        assertThat(sha256(iso)).isEqualTo(isoHash);
    }

    // ---------------------------------------------------------------- helpers

    private static void genisoimage(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("genisoimage"));
        command.addAll(List.of(args));
        Process mkiso = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(mkiso.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(mkiso.waitFor()).as("genisoimage (scripts/setup-debian installs it): %s", out).isZero();
    }

    private Path randomImage(String name) throws IOException {
        byte[] bytes = new byte[IMAGE_BYTES];
        new Random(name.hashCode()).nextBytes(bytes);
        return Files.write(session.work().resolve(name), bytes);
    }

    /** The guest-visible bytes of an image, through qemu-img convert to raw. */
    private byte[] rawContent(Path image, String name) throws IOException {
        Path raw = session.work().resolve(name);
        session.driver().qemuImg().convert(image, DiskFormat.QCOW2, raw, DiskFormat.RAW, p -> { });
        return Files.readAllBytes(raw);
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static String md5(Path file, int offset, int length) throws Exception {
        return md5(Files.readAllBytes(file), offset, length);
    }

    private static String md5(byte[] bytes, int offset, int length) throws Exception {
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        md5.update(bytes, offset, length);
        return HexFormat.of().formatHex(md5.digest());
    }
}
