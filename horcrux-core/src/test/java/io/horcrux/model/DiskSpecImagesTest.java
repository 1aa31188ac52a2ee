package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.InvalidVmSpecException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The spec's rules for disks made from images: what the spec alone can tell, every violation listed. */
class DiskSpecImagesTest {

    private static List<Violation> violationsOf(DiskSpec... disks) {
        VmSpec.Builder b = VmSpec.builder().id("images");
        for (DiskSpec disk : disks) {
            b.disk(disk);
        }
        try {
            b.build();
        } catch (InvalidVmSpecException e) {
            return e.violations();
        }
        throw new AssertionError("expected an InvalidVmSpecException");
    }

    @Test
    void factoriesMakeWhatTheySay() {
        Path base = Path.of("/images/base.qcow2");
        assertThat(DiskSpec.overlay("root", base)).isEqualTo(
                new DiskSpec("root", DiskFormat.QCOW2, 0, false, DiskKind.OVERLAY, "/images/base.qcow2"));
        assertThat(DiskSpec.copyOf("root", base)).isEqualTo(
                new DiskSpec("root", DiskFormat.QCOW2, 0, false, DiskKind.COPY, "/images/base.qcow2"));
        assertThat(DiskSpec.copyOf("root", base, DiskFormat.RAW).format()).isEqualTo(DiskFormat.RAW);
        assertThat(DiskSpec.cdrom("media", Path.of("/images/x.iso"))).isEqualTo(
                new DiskSpec("media", DiskFormat.RAW, 0, true, DiskKind.CDROM, "/images/x.iso"));
        assertThat(DiskSpec.overlay("root", base).withSizeBytes(8L << 30).sizeBytes()).isEqualTo(8L << 30);
        assertThat(DiskSpec.qcow2("data", 1L << 30).kind()).isEqualTo(DiskKind.EMPTY);
        assertThat(DiskSpec.qcow2("data", 1L << 30).sourcePath()).isEmpty();
        assertThat(DiskSpec.overlay("root", base).sourcePath()).contains(base);
        assertThat(new DiskSpec("d", DiskFormat.RAW, 1L << 20, false, null, null).kind()).as("null means empty")
                .isEqualTo(DiskKind.EMPTY);
    }

    @Test
    void relativeSourcesAreResolvedNowAndNormalised() {
        DiskSpec disk = DiskSpec.overlay("root", Path.of("images", "..", "base.qcow2"));
        assertThat(disk.source()).isEqualTo(Path.of("base.qcow2").toAbsolutePath().toString());
    }

    @Test
    void aVmOfDisksFromImagesIsValidWithTheSourcesSizeOrALargerOne() {
        VmSpec spec = VmSpec.builder().id("ok")
                .disk(DiskSpec.overlay("root", Path.of("/images/base.qcow2")).withSizeBytes(20L << 30))
                .disk(DiskSpec.copyOf("copy", Path.of("/images/base.qcow2")))
                .disk(DiskSpec.cdrom("media", Path.of("/images/x.iso")))
                .boot(BootSpec.devices(BootDevice.CDROM, BootDevice.DISK)).build();
        assertThat(spec.disks()).hasSize(3);
    }

    @Test
    void everyRuleOfDisksFromImagesIsCheckedAndEveryViolationListed() {
        List<Violation> violations = violationsOf(
                new DiskSpec("a", DiskFormat.RAW, 0, true, DiskKind.OVERLAY, "relative/base.img"),
                new DiskSpec("b", DiskFormat.QCOW2, 1L << 20, false, DiskKind.CDROM, null),
                new DiskSpec("c", DiskFormat.QCOW2, 1000, false, DiskKind.COPY, "/images/../etc/x"),
                new DiskSpec("d", DiskFormat.QCOW2, 1L << 30, false, DiskKind.EMPTY, "/images/base.img"),
                new DiskSpec("e", DiskFormat.QCOW2, 0, false, DiskKind.COPY, "/images/ctl\nchar"));
        assertThat(violations).extracting(Violation::field).containsExactly(
                "disks[0].source", "disks[0].format", "disks[0].readOnly",
                "disks[1].source", "disks[1].format", "disks[1].readOnly", "disks[1].sizeBytes",
                "disks[2].source", "disks[2].sizeBytes",
                "disks[3].source",
                "disks[4].source");
        assertThat(violations.get(0).rule()).contains("absolute, normalised");
        assertThat(violations.get(1).rule()).contains("an overlay is a QCOW2 image");
        assertThat(violations.get(3).rule()).contains("needs a source image");
        assertThat(violations.get(5).rule()).contains("a CD-ROM is read-only");
        assertThat(violations.get(8).rule()).contains("must be between");
        assertThat(violations.get(9).rule()).contains("an empty disk has no source image");
        assertThat(violations.get(10).rule()).contains("without control characters");
    }

    @Test
    void aLargerSizeMustStillBeAlignedAndBounded() {
        assertThat(violationsOf(DiskSpec.overlay("root", Path.of("/b.img")).withSizeBytes((1L << 30) + 1)))
                .extracting(Violation::field, Violation::rule)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("disks[0].sizeBytes",
                        "must be a multiple of 512, was " + ((1L << 30) + 1)));
        assertThat(violationsOf(DiskSpec.copyOf("root", Path.of("/b.img")).withSizeBytes(1L << 50)))
                .extracting(Violation::field).containsExactly("disks[0].sizeBytes");
    }
}
