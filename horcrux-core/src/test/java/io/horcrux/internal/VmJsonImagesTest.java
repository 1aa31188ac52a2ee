package io.horcrux.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The JSON of disks made from images, and documents from before disks had sources. */
class VmJsonImagesTest {
    private static final VmSpec IMAGES = VmSpec.builder().id("images")
            .disk(DiskSpec.overlay("root", Path.of("/images/debian, 12.qcow2")).withSizeBytes(20L << 30))
            .disk(DiskSpec.copyOf("copy", Path.of("/images/golden.img"), DiskFormat.RAW))
            .disk(DiskSpec.cdrom("media", Path.of("/images/netinst.iso")))
            .disk(DiskSpec.qcow2("data", 1L << 30)).build();

    @Test
    void disksFromImagesRoundTripAndEmptyDisksWriteNoKindOrSource() throws IOException {
        String json = VmJson.specToJson(IMAGES);
        assertThat(VmJson.specFromJson(json)).isEqualTo(IMAGES);
        assertThat(json).contains("{\"name\":\"root\",\"format\":\"QCOW2\",\"sizeBytes\":21474836480,\"kind\":\"OVERLAY\","
                + "\"source\":\"/images/debian, 12.qcow2\"}");
        assertThat(json).contains("{\"name\":\"media\",\"format\":\"RAW\",\"sizeBytes\":0,\"readOnly\":true,"
                + "\"kind\":\"CDROM\",\"source\":\"/images/netinst.iso\"}");
        assertThat(json).contains("{\"name\":\"data\",\"format\":\"QCOW2\",\"sizeBytes\":1073741824}");
    }

    @Test
    void aDocumentFromBeforeDisksHadSourcesDecodesAsEmptyDisks() throws IOException {
        String old = "{\"id\":\"old\",\"name\":\"old\",\"memoryMiB\":64,\"cpus\":1,\"architecture\":\"X86_64\","
                + "\"disks\":[{\"name\":\"root\",\"format\":\"QCOW2\",\"sizeBytes\":1073741824},"
                + "{\"name\":\"ro\",\"format\":\"RAW\",\"sizeBytes\":1048576,\"readOnly\":true}],"
                + "\"nics\":[],\"labels\":{},\"boot\":{\"order\":[\"DISK\"]}}";
        VmSpec spec = VmJson.specFromJson(old);
        assertThat(spec.disks()).containsExactly(DiskSpec.qcow2("root", 1L << 30), DiskSpec.raw("ro", 1L << 20).asReadOnly());
        assertThat(spec.disks()).extracting(DiskSpec::kind).containsOnly(DiskKind.EMPTY);
        assertThat(VmJson.specToJson(spec)).isEqualTo(old).as("an unchanged spec encodes to the same bytes");
    }
}
