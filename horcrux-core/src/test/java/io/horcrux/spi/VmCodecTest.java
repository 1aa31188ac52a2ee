package io.horcrux.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.InvalidVmSpecException;
import io.horcrux.StoreException;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class VmCodecTest {
    private static final VmSpec FULL = VmSpec.builder().id("full").name("Full \"quoted\", caf\u00e9 \ud83d\ude00")
            .memoryMiB(512).cpus(2)
            .disk(DiskSpec.qcow2("root", 1L << 30)).disk(DiskSpec.raw("data", 1L << 20).asReadOnly())
            .nic(NicSpec.user("eth0").withMac("52:54:00:aa:bb:cc")).label("env", "prod")
            .boot(BootSpec.kernel("/boot/vmlinuz", "/boot/initrd", "console=ttyS0")).build();
    private static final Vm RUNNING = new Vm(FULL, VmStatus.RUNNING, 9, Instant.parse("2026-01-01T00:00:00.123456Z"),
            Instant.parse("2026-01-01T00:00:01Z"), "started", new VmRuntime(77, "/run/q.sock"));

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void specsAndVmsRoundTrip() {
        assertThat(VmCodec.decodeSpec(VmCodec.encodeSpec(FULL))).isEqualTo(FULL);
        VmSpec minimal = VmSpec.builder().id("m").build();
        assertThat(VmCodec.decodeSpec(VmCodec.encodeSpec(minimal))).isEqualTo(minimal);
        assertThat(VmCodec.decode(VmCodec.encode(RUNNING))).isEqualTo(RUNNING);
        Vm stopped = new Vm(minimal, VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null);
        assertThat(VmCodec.decode(VmCodec.encode(stopped))).isEqualTo(stopped);
    }

    @Test
    void theFormatIsPinned() {
        VmSpec spec = VmSpec.builder().id("web-1").memoryMiB(256).disk(DiskSpec.qcow2("root", 1L << 30))
                .nic(NicSpec.user("eth0").withMac("52:54:00:00:00:01")).label("env", "test").build();
        String specJson = "{\"id\":\"web-1\",\"name\":\"web-1\",\"memoryMiB\":256,\"cpus\":1,\"architecture\":\"X86_64\","
                + "\"disks\":[{\"name\":\"root\",\"format\":\"QCOW2\",\"sizeBytes\":1073741824}],"
                + "\"nics\":[{\"name\":\"eth0\",\"mac\":\"52:54:00:00:00:01\"}],\"labels\":{\"env\":\"test\"},"
                + "\"boot\":{\"order\":[\"DISK\"]}}";
        assertThat(new String(VmCodec.encodeSpec(spec), StandardCharsets.UTF_8)).isEqualTo(specJson);
        Vm vm = new Vm(spec, VmStatus.PAUSED, 4, Instant.parse("2026-01-02T03:04:05Z"),
                Instant.parse("2026-01-02T03:04:06.5Z"), "paused", new VmRuntime(42, "/run/web-1.qmp"));
        assertThat(new String(VmCodec.encode(vm), StandardCharsets.UTF_8)).isEqualTo("{\"spec\":" + specJson
                + ",\"status\":\"PAUSED\",\"version\":4,\"createdAt\":\"2026-01-02T03:04:05Z\","
                + "\"updatedAt\":\"2026-01-02T03:04:06.500Z\",\"statusReason\":\"paused\","
                + "\"runtime\":{\"pid\":42,\"monitor\":\"/run/web-1.qmp\"},\"owner\":\"local\"}");
        Vm elsewhere = vm.withOwner("host-2");
        assertThat(new String(VmCodec.encode(elsewhere), StandardCharsets.UTF_8)).endsWith(",\"owner\":\"host-2\"}");
        assertThat(VmCodec.decode(VmCodec.encode(elsewhere))).isEqualTo(elsewhere);
        // A document written before VMs had owners belongs to the default host.
        String older = new String(VmCodec.encode(vm), StandardCharsets.UTF_8).replace(",\"owner\":\"local\"", "");
        assertThat(VmCodec.decode(older.getBytes(StandardCharsets.UTF_8))).isEqualTo(vm);
        assertThat(VmCodec.encodeSpec(spec)).isEqualTo(VmCodec.encodeSpec(VmCodec.decodeSpec(VmCodec.encodeSpec(spec))));
    }

    @Test
    void fieldsOfLaterVersionsAreSkipped() {
        String json = "{\"id\":\"a\",\"future\":{\"x\":[1,2,{}]},\"memoryMiB\":64,\"cpus\":1,\"architecture\":\"X86_64\"}";
        assertThat(VmCodec.decodeSpec(utf8(json)).memoryMiB()).isEqualTo(64);
    }

    @Test
    void badBytesAreStoreExceptionsNamingWhatIsWrong() {
        assertThatThrownBy(() -> VmCodec.decodeSpec(new byte[0])).isInstanceOf(StoreException.class)
                .hasMessageContaining("empty");
        assertThatThrownBy(() -> VmCodec.decodeSpec(utf8("[]"))).isInstanceOf(StoreException.class)
                .hasMessageContaining("not an encoded VM spec").hasMessageContaining("START_OBJECT");
        assertThatThrownBy(() -> VmCodec.decodeSpec(utf8("{\"id\":5}"))).isInstanceOf(StoreException.class)
                .hasMessageContaining("expected a string for 'id'").hasMessageContaining("line 1");
        assertThatThrownBy(() -> VmCodec.decodeSpec(utf8("{\"id\":\"a\",\"architecture\":\"SPARC\"}")))
                .isInstanceOf(StoreException.class).hasMessageContaining("unknown Architecture 'SPARC'");
        assertThatThrownBy(() -> VmCodec.decodeSpec(utf8("{\"id\":\"a\",\"disks\":[")))
                .isInstanceOf(StoreException.class);
        String valid = new String(VmCodec.encodeSpec(VmSpec.builder().id("a").build()), StandardCharsets.UTF_8);
        assertThatThrownBy(() -> VmCodec.decodeSpec(utf8(valid + " {}"))).isInstanceOf(StoreException.class)
                .hasMessageContaining("after the VM spec object");
        assertThatThrownBy(() -> VmCodec.decodeSpec(new byte[] {'{', '"', (byte) 0xC3, '"', ':', '1', '}'}))
                .isInstanceOf(StoreException.class).hasMessageContaining("UTF-8");
        assertThatThrownBy(() -> VmCodec.decode(utf8("{\"spec\":" + valid + "}"))).isInstanceOf(StoreException.class)
                .hasMessageContaining("not an encoded VM:").hasMessageContaining("needs spec, status");
    }

    @Test
    void aSpecThatBreaksARuleIsAStoreExceptionCausedByTheViolations() {
        String json = "{\"id\":\"../etc\",\"memoryMiB\":1,\"cpus\":1,\"architecture\":\"X86_64\"}";
        assertThatThrownBy(() -> VmCodec.decodeSpec(utf8(json))).isInstanceOf(StoreException.class)
                .hasMessageContaining("breaks a rule").hasMessageContaining("id:").hasMessageContaining("memoryMiB:")
                .hasCauseInstanceOf(InvalidVmSpecException.class);
    }

    @Test
    void nullIsRefused() {
        assertThatThrownBy(() -> VmCodec.encode(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> VmCodec.encodeSpec(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> VmCodec.decode(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> VmCodec.decodeSpec(null)).isInstanceOf(NullPointerException.class);
    }
}
