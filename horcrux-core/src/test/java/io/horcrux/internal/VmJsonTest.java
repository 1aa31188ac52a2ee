package io.horcrux.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.io.IOException;
import java.io.StringWriter;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class VmJsonTest {
    private static final VmSpec FULL = VmSpec.builder().id("full").name("Full \"quoted\", \u00e9\u4e2d").memoryMiB(512).cpus(2)
            .disk(DiskSpec.qcow2("root", 1L << 30)).disk(DiskSpec.raw("data", 1L << 20).asReadOnly())
            .nic(NicSpec.user("eth0")).label("env", "prod").label("x/y", "a\\b")
            .boot(BootSpec.kernel("/boot/vmlinuz", "/boot/initrd", "console=ttyS0")).build();

    @Test
    void specRoundTrips() throws IOException {
        assertThat(VmJson.specFromJson(VmJson.specToJson(FULL))).isEqualTo(FULL);
        VmSpec minimal = VmSpec.builder().id("m").build();
        assertThat(VmJson.specFromJson(VmJson.specToJson(minimal))).isEqualTo(minimal);
    }

    @Test
    void vmRoundTripsWithAndWithoutRuntime() throws IOException {
        for (Vm vm : new Vm[] {
                new Vm(FULL, VmStatus.RUNNING, 9, Instant.parse("2026-01-01T00:00:00.123456Z"), Instant.EPOCH, "started",
                        new VmRuntime(77, "/run/q.sock")),
                new Vm(FULL, VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null)}) {
            StringWriter out = new StringWriter();
            try (JsonGenerator gen = VmJson.FACTORY.createGenerator(out)) {
                VmJson.writeVm(gen, vm);
            }
            try (JsonParser p = VmJson.FACTORY.createParser(out.toString())) {
                p.nextToken();
                assertThat(VmJson.readVm(p)).isEqualTo(vm);
            }
        }
    }

    @Test
    void networksCloudInitAndRuntimeForwardsRoundTrip() throws IOException {
        VmSpec spec = FULL.toBuilder()
                .nic(NicSpec.user("eth1").forward(io.horcrux.model.PortForward.tcp(0, 22),
                        io.horcrux.model.PortForward.udp(5353, 53).onHostAddress("0.0.0.0")))
                .nic(NicSpec.tap("eth2", "tap-web1"))
                .cloudInit(io.horcrux.model.CloudInit.userData("#cloud-config\n\"quoted\"\n")
                        .withMetaData("instance-id: x\n").withNetworkConfig("version: 2\n"))
                .build();
        assertThat(VmJson.specFromJson(VmJson.specToJson(spec))).isEqualTo(spec);
        Vm vm = new Vm(spec, VmStatus.RUNNING, 2, Instant.EPOCH, Instant.EPOCH, "started",
                new VmRuntime(7, "/run/q.sock", java.util.List.of(io.horcrux.model.PortForward.tcp(40001, 22),
                        io.horcrux.model.PortForward.udp(5353, 53).onHostAddress("0.0.0.0"))));
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator(out)) {
            VmJson.writeVm(gen, vm);
        }
        try (JsonParser p = VmJson.FACTORY.createParser(out.toString())) {
            p.nextToken();
            assertThat(VmJson.readVm(p)).isEqualTo(vm);
        }
        assertThat(VmJson.forwardsFromJson(VmJson.forwardsToJson(vm.runtime().forwards())))
                .isEqualTo(vm.runtime().forwards());
    }

    @Test
    void aDocumentWrittenBeforeNetworksAndCloudInitStillReadsAndKeepsItsBytes() throws IOException {
        String old = "{\"id\":\"old\",\"name\":\"old\",\"memoryMiB\":64,\"cpus\":1,\"architecture\":\"X86_64\","
                + "\"disks\":[],\"nics\":[{\"name\":\"eth0\",\"mac\":\"52:54:00:00:00:01\"}],\"labels\":{},"
                + "\"boot\":{\"order\":[\"DISK\"]}}";
        VmSpec spec = VmJson.specFromJson(old);
        assertThat(spec.nics().get(0).mode()).isEqualTo(io.horcrux.model.NicMode.USER);
        assertThat(spec.nics().get(0).forwards()).isEmpty();
        assertThat(spec.cloudInit()).isNull();
        assertThat(VmJson.specToJson(spec)).as("a plain spec is written as before").isEqualTo(old);
        String oldVm = "{\"spec\":" + old + ",\"status\":\"RUNNING\",\"version\":1,\"createdAt\":\"1970-01-01T00:00:00Z\","
                + "\"updatedAt\":\"1970-01-01T00:00:00Z\",\"statusReason\":\"\",\"runtime\":{\"pid\":3,\"monitor\":\"m\"}}";
        try (JsonParser p = VmJson.FACTORY.createParser(oldVm)) {
            p.nextToken();
            assertThat(VmJson.readVm(p).runtime().forwards()).isEmpty();
        }
    }

    @Test
    void badForwardsAreRefused() {
        assertThatThrownBy(() -> VmJson.forwardsFromJson("[{\"protocol\":\"SCTP\",\"hostPort\":1,\"guestPort\":1}]"))
                .isInstanceOf(IOException.class).hasMessageContaining("SCTP");
        assertThatThrownBy(() -> VmJson.forwardsFromJson("[] []")).isInstanceOf(IOException.class);
    }

    @Test
    void unknownFieldsAreSkipped() throws IOException {
        String json = "{\"id\":\"a\",\"future\":{\"x\":[1,2,{}]},\"memoryMiB\":64,\"cpus\":1,\"architecture\":\"X86_64\"}";
        assertThat(VmJson.specFromJson(json).memoryMiB()).isEqualTo(64);
    }

    @Test
    void aSpecThatBreaksRulesIsRefusedByTheSpecItself() {
        String json = "{\"id\":\"../etc\",\"memoryMiB\":1,\"cpus\":1,\"architecture\":\"X86_64\"}";
        assertThatThrownBy(() -> VmJson.specFromJson(json)).isInstanceOf(InvalidVmSpecException.class)
                .hasMessageContaining("id:").hasMessageContaining("memoryMiB:");
    }

    @Test
    void malformedDocumentsAreIoErrorsNamingTheProblem() {
        assertThatThrownBy(() -> VmJson.specFromJson("[]")).isInstanceOf(IOException.class).hasMessageContaining("START_OBJECT");
        assertThatThrownBy(() -> VmJson.specFromJson("{\"id\":5}")).isInstanceOf(IOException.class)
                .hasMessageContaining("expected a string for 'id'");
        assertThatThrownBy(() -> VmJson.specFromJson("{\"id\":\"a\",\"architecture\":\"SPARC\"}"))
                .isInstanceOf(IOException.class).hasMessageContaining("unknown Architecture 'SPARC'");
        assertThatThrownBy(() -> VmJson.specFromJson("{\"id\":\"a\",\"disks\":[{\"name\":\"d\"}]}"))
                .isInstanceOf(IOException.class).hasMessageContaining("format");
        assertThatThrownBy(() -> VmJson.specFromJson("{\"id\":\"a\",\"disks\":[")).isInstanceOf(IOException.class);
    }

    @Test
    void deeplyNestedInputIsRefused() {
        String deep = "{\"id\":\"a\",\"x\":" + "[".repeat(5000) + "]".repeat(5000) + "}";
        assertThatThrownBy(() -> VmJson.specFromJson(deep)).isInstanceOf(IOException.class).hasMessageContaining("nesting");
    }
}
