package io.horcrux.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonGenerator;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.LongRange;

/**
 * The generator-free writer gives the text Jackson's generator gives, character for character,
 * whatever the VM holds: for the VMs it writes itself, and for the ones it hands back.
 */
class AsciiVmJsonTest {

    @Provide
    Arbitrary<String> texts() {
        return Arbitraries.oneOf(
                Arbitraries.strings().withChars("abz09-_ .:/ABZ").ofMinLength(1).ofMaxLength(40),
                Arbitraries.strings().withChars("ab\"\\\u007f\u00e9\u4e2d\t~ ").ofMinLength(1).ofMaxLength(10),
                Arbitraries.strings().all().ofMinLength(1).ofMaxLength(20));
    }

    @Provide
    Arbitrary<String> names() {
        return Arbitraries.strings().withChars("abz09-").ofMinLength(1).ofMaxLength(20).filter(t -> t.charAt(0) != '-');
    }

    @Provide
    Arbitrary<Instant> instants() {
        return Arbitraries.oneOf(Arbitraries.longs().between(-62_135_596_900L, 253_402_300_900L)
                        .flatMap(s -> Arbitraries.integers().between(0, 999_999_999).map(n -> Instant.ofEpochSecond(s, n))),
                Arbitraries.of(Instant.EPOCH, Instant.MIN, Instant.MAX, Instant.parse("2026-12-01T12:00:00.100Z")));
    }

    @Property(tries = 3000)
    void sameTextAsTheGenerator(@ForAll("texts") String name, @ForAll("texts") String labelValue,
                                @ForAll("texts") String reason, @ForAll("instants") Instant created,
                                @ForAll("instants") Instant updated, @ForAll boolean readOnly, @ForAll boolean kernel,
                                @ForAll boolean running, @ForAll @LongRange(min = 1) long version) throws IOException {
        VmSpec spec;
        try {
            VmSpec.Builder b = VmSpec.builder().id("vm-1").name(name).memoryMiB(512).cpus(3)
                    .disk(new DiskSpec("root", io.horcrux.model.DiskFormat.QCOW2, 8L << 30, readOnly))
                    .disk(DiskSpec.raw("data", 1L << 20)).nic(NicSpec.user("eth0")).nic(NicSpec.user("eth1"))
                    .label("env", labelValue).label("a.b/c", "x");
            if (kernel) {
                b.boot(BootSpec.kernel("/boot/vmlinuz", "/boot/initrd", "console=ttyS0 " + labelValue));
            } else {
                b.boot(BootSpec.devices(BootDevice.NETWORK, BootDevice.DISK));
            }
            spec = b.build();
        } catch (InvalidVmSpecException e) {
            Assume.that(false);
            return;
        }
        Vm vm = new Vm(spec, running ? VmStatus.RUNNING : VmStatus.STOPPED, version, created, updated, reason,
                running ? new VmRuntime(4242, "/run/horcrux/" + labelValue) : null);
        assertSameText(vm);
        // The same spec object again, in the VM's next version: its text comes from EncodedSpecs.
        assertSameText(new Vm(spec, running ? VmStatus.STOPPED : VmStatus.RUNNING, version == Long.MAX_VALUE ? 1 : version + 1,
                created, updated, reason + "!", running ? null : new VmRuntime(7, "/run/m")));
    }

    @Example
    void theModelHasTheFieldsBothWritersKnow() {
        // A new component must be written by AsciiVmJson and VmJson.writeSpec/writeVmWithJackson
        // alike (and read by VmJson): add it to both, then here.
        assertThat(components(VmSpec.class)).containsExactly("id", "name", "memoryMiB", "cpus", "architecture", "disks",
                "nics", "labels", "boot", "cloudInit");
        assertThat(components(DiskSpec.class)).containsExactly("name", "format", "sizeBytes", "readOnly", "kind", "source");
        assertThat(components(NicSpec.class)).containsExactly("name", "mac", "mode", "tapDevice", "forwards");
        assertThat(components(PortForward.class)).containsExactly("protocol", "hostAddress", "hostPort", "guestPort");
        assertThat(components(CloudInit.class)).containsExactly("userData", "metaData", "networkConfig");
        assertThat(components(BootSpec.class)).containsExactly("order", "kernel", "initrd", "cmdline");
        assertThat(components(Vm.class)).containsExactly("spec", "status", "version", "createdAt", "updatedAt",
                "statusReason", "runtime", "owner");
        assertThat(components(VmRuntime.class)).containsExactly("pid", "monitor", "forwards");
    }

    @Property(tries = 500)
    void sameTextForDisksFromImagesNetworksCloudInitAndOwners(@ForAll("names") String source,
                                                             @ForAll("texts") String userData,
                                                             @ForAll("names") String owner, @ForAll boolean metaData,
                                                             @ForAll boolean running) throws IOException {
        VmSpec spec;
        Vm vm;
        try {
            CloudInit seed = CloudInit.userData(userData);
            if (metaData) {
                seed = seed.withMetaData("instance-id: " + source + "\n");
            }
            spec = VmSpec.builder().id("vm-2")
                    .disk(DiskSpec.overlay("root", java.nio.file.Path.of("/images/" + source + ".qcow2")))
                    .disk(DiskSpec.copyOf("copy", java.nio.file.Path.of("/images/base.raw")).withSizeBytes(2L << 30))
                    .disk(DiskSpec.cdrom("cd", java.nio.file.Path.of("/images/install.iso")))
                    .nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 22), PortForward.udp(5353, 53).onHostAddress("0.0.0.0")))
                    .nic(NicSpec.tap("eth1", "tap-1"))
                    .cloudInit(seed)
                    .build();
            vm = new Vm(spec, running ? VmStatus.RUNNING : VmStatus.STOPPED, 3, Instant.EPOCH, Instant.EPOCH, "",
                    running ? new VmRuntime(7, "/run/m", List.of(PortForward.tcp(40001, 22),
                            PortForward.udp(5353, 53).onHostAddress("0.0.0.0"))) : null, owner);
        } catch (InvalidVmSpecException | IllegalArgumentException e) {
            Assume.that(false);
            return;
        }
        assertSameText(vm);
    }

    @Example
    void aPrettyPrintingGeneratorStillGetsItsIndentation() throws IOException {
        Vm vm = new Vm(VmSpec.builder().id("p").build(), VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null);
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator(out).useDefaultPrettyPrinter()) {
            VmJson.writeVm(gen, vm);
        }
        assertThat(out.toString()).contains("\n");
    }

    private static List<String> components(Class<? extends Record> type) {
        return Arrays.stream(type.getRecordComponents()).map(c -> c.getName()).toList();
    }

    private static void assertSameText(Vm vm) throws IOException {
        StringWriter jackson = new StringWriter();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator(jackson)) {
            gen.writeStartArray();
            VmJson.writeVmWithJackson(gen, vm);
            VmJson.writeVmWithJackson(gen, vm);
            gen.writeEndArray();
        }
        StringWriter chars = new StringWriter();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator(chars)) {
            gen.writeStartArray();
            VmJson.writeVm(gen, vm);
            VmJson.writeVm(gen, vm);
            gen.writeEndArray();
        }
        assertThat(chars.toString()).isEqualTo(jackson.toString());

        ByteArrayOutputStream jacksonBytes = new ByteArrayOutputStream();
        boolean encodable = true;
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator((OutputStream) jacksonBytes)) {
            VmJson.writeVmWithJackson(gen, vm);
        } catch (IOException | IllegalArgumentException e) {
            encodable = false; // a lone surrogate: UTF-8 cannot hold it
        }
        if (encodable) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (JsonGenerator gen = VmJson.FACTORY.createGenerator((OutputStream) bytes)) {
                VmJson.writeVm(gen, vm);
            }
            assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo(jacksonBytes.toString(StandardCharsets.UTF_8));
        }

        StringWriter spec = new StringWriter();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator(spec)) {
            VmJson.writeSpec(gen, vm.spec());
        }
        assertThat(VmJson.specToJson(vm.spec())).isEqualTo(spec.toString());
    }
}
