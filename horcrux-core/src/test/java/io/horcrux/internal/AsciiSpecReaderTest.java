package io.horcrux.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonParser;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.StoreException;
import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The parser-free reader of stored specs gives what Jackson gives for every text the writer
 * makes of an all-ASCII spec, and declines (so Jackson reads it) everything else.
 */
class AsciiSpecReaderTest {
    @Provide
    Arbitrary<String> texts() {
        return Arbitraries.oneOf(
                Arbitraries.strings().withChars("abz09-_ .:/ABZ").ofMinLength(1).ofMaxLength(80),
                Arbitraries.strings().withChars("ab\"\\\u007f\u00e9\u4e2d\t~ ").ofMinLength(1).ofMaxLength(10));
    }

    @Provide
    Arbitrary<String> names() {
        return Arbitraries.strings().withChars("abz09-").ofMinLength(1).ofMaxLength(20).filter(t -> t.charAt(0) != '-');
    }

    @Property(tries = 2000)
    void readsWhatTheWriterWritesAsJacksonDoes(@ForAll("texts") String name, @ForAll("texts") String labelValue,
                                               @ForAll("names") String image, @ForAll("texts") String userData,
                                               @ForAll boolean kernel, @ForAll boolean images, @ForAll boolean seed,
                                               @ForAll boolean forwards) throws IOException {
        VmSpec spec;
        try {
            VmSpec.Builder b = VmSpec.builder().id("vm-1").name(name).memoryMiB(1536).cpus(12)
                    .disk(DiskSpec.qcow2("root", 8L << 30)).disk(DiskSpec.raw("data", 1L << 20).asReadOnly())
                    .nic(NicSpec.user("eth0").withMac("52:54:00:12:34:56"))
                    .label("env", labelValue).label("a.b/c", "x").label("team", image);
            if (images) {
                b.disk(DiskSpec.overlay("base", Path.of("/images/" + image + ".qcow2")))
                        .disk(DiskSpec.cdrom("cd", Path.of("/images/install.iso")))
                        .nic(NicSpec.tap("eth1", "tap-" + image.substring(0, Math.min(8, image.length()))));
            }
            if (forwards) {
                b.nic(NicSpec.user("eth2").forward(PortForward.tcp(0, 22), PortForward.udp(5353, 53).onHostAddress("0.0.0.0")));
            }
            if (kernel) {
                b.boot(BootSpec.kernel("/boot/vmlinuz", "/boot/initrd", "console=ttyS0 " + labelValue));
            } else {
                b.boot(BootSpec.devices(BootDevice.NETWORK, BootDevice.DISK));
            }
            if (seed) {
                b.cloudInit(CloudInit.userData(userData).withMetaData("instance-id: " + image));
            }
            spec = b.build();
        } catch (InvalidVmSpecException | IllegalArgumentException e) {
            Assume.that(false);
            return;
        }
        byte[] text = VmJson.specToJson(spec).getBytes(StandardCharsets.UTF_8);
        VmSpec own = VmJson.specFromOwnText(text);
        assertThat(jackson(text)).isEqualTo(spec);
        if (plain(name) && plain(labelValue) && (!seed || plain(userData))) {
            assertThat(own).isEqualTo(spec);
            assertThat(VmJson.specToJson(own)).isEqualTo(VmJson.specToJson(spec));
        } else {
            assertThat(own).isNull(); // an escape (or a character beyond ASCII): Jackson's to read
        }
        assertThat(VmCodec.decodeSpec(text)).isEqualTo(spec);
    }

    @Example
    void declinesTextInAnyOtherFormSoJacksonReadsIt() throws IOException {
        VmSpec spec = VmSpec.builder().id("vm-2").name("two").memoryMiB(256)
                .disk(DiskSpec.qcow2("root", 1L << 30)).nic(NicSpec.user("eth0")).label("env", "prod").build();
        String own = VmJson.specToJson(spec);
        assertThat(VmJson.specFromOwnText(own.getBytes(StandardCharsets.US_ASCII))).isEqualTo(spec);
        String[] others = {
            own.replace(",\"name\":", ", \"name\":"),                                  // white space
            own.replace("{\"id\":\"vm-2\",\"name\":\"two\"", "{\"name\":\"two\",\"id\":\"vm-2\""), // another order
            own.replace(",\"cpus\":", ",\"future\":1,\"cpus\":"),                     // a field it does not know
            own.replace("\"two\"", "\"t\\u0077o\""),                                   // an escape
            own.replace("\"memoryMiB\":256", "\"memoryMiB\":256.0"),                   // not plain digits
            own.replace("\"memoryMiB\":256", "\"memoryMiB\":0256"),
            own + " ",                                                                  // something after it
        };
        for (String other : others) {
            byte[] bytes = other.getBytes(StandardCharsets.US_ASCII);
            assertThat(VmJson.specFromOwnText(bytes)).as(other).isNull();
        }
        for (int i : new int[] {0, 1, 2, 3, 6}) { // Jackson reads these as the same spec
            assertThat(VmCodec.decodeSpec(others[i].getBytes(StandardCharsets.US_ASCII))).as(others[i]).isEqualTo(spec);
        }
        for (int cut = 0; cut < own.length(); cut++) { // cut short anywhere: declined, and Jackson fails
            byte[] bytes = own.substring(0, cut).getBytes(StandardCharsets.US_ASCII);
            assertThat(VmJson.specFromOwnText(bytes)).isNull();
            assertThatThrownBy(() -> VmCodec.decodeSpec(bytes)).isInstanceOf(StoreException.class);
        }
    }

    @Example
    void aSpecInTheWritersFormThatBreaksARuleFailsAsWithJackson() {
        String own = VmJson.specToJson(VmSpec.builder().id("vm-3").memoryMiB(256).build());
        byte[] broken = own.replace("\"memoryMiB\":256", "\"memoryMiB\":0").getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> VmJson.specFromOwnText(broken)).isInstanceOf(InvalidVmSpecException.class)
                .hasMessageContaining("memoryMiB");
        assertThatThrownBy(() -> VmCodec.decodeSpec(broken)).isInstanceOf(StoreException.class)
                .hasMessageContaining("memoryMiB");
    }

    @Example
    void repeatedShortStringsAreShared() {
        VmSpec a = VmSpec.builder().id("a").disk(DiskSpec.qcow2("root", 1L << 30)).label("team", "storage").build();
        VmSpec b = VmSpec.builder().id("b").disk(DiskSpec.qcow2("root", 1L << 30)).label("team", "storage").build();
        VmSpec ra = VmJson.specFromOwnText(VmJson.specToJson(a).getBytes(StandardCharsets.US_ASCII));
        VmSpec rb = VmJson.specFromOwnText(VmJson.specToJson(b).getBytes(StandardCharsets.US_ASCII));
        assertThat(rb.labels().get("team")).isSameAs(ra.labels().get("team"));
        assertThat(rb.disks().get(0).name()).isSameAs(ra.disks().get(0).name());
        assertThat(rb.id()).isEqualTo("b");
    }

    private static boolean plain(String s) {
        return s.chars().allMatch(c -> c >= 0x20 && c <= 0x7e && c != '"' && c != '\\');
    }

    private static VmSpec jackson(byte[] text) throws IOException {
        try (JsonParser p = VmJson.FACTORY.createParser(text)) {
            p.nextToken();
            return VmJson.readSpec(p);
        }
    }
}
