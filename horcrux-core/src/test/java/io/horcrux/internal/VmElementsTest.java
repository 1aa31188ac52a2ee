package io.horcrux.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonGenerator;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * {@link VmJson#writeVmElements} writes what a compact generator writes for the same VMs, one
 * {@code writeVm} after another, in an array: whatever mix of plain VMs and VMs with text to
 * escape, and across its chunks.
 */
class VmElementsTest {

    private static Vm vm(int i, boolean escaped) {
        VmSpec spec = VmSpec.builder().id("vm-" + i).name(escaped ? "caf\u00e9 \"" + i + "\"" : "plain " + i)
                .memoryMiB(512).cpus(2).disk(DiskSpec.qcow2("root", 8L << 30)).nic(NicSpec.user("eth0"))
                .label("env", i % 2 == 0 ? "prod" : "test").label("team", "team-" + (i % 7)).build();
        Instant created = Instant.ofEpochSecond(1_700_000_000L + i, i * 1000L);
        return new Vm(spec, i % 3 == 0 ? VmStatus.RUNNING : VmStatus.STOPPED, i + 1, created, created.plusMillis(i % 2),
                escaped ? "reason \u2603" : "created", i % 3 == 0 ? new VmRuntime(1000 + i, "/run/vm-" + i) : null);
    }

    @Property(tries = 60)
    void sameBytesAsTheGenerator(@ForAll @IntRange(max = 400) int count, @ForAll @IntRange(max = 8) int escapeEvery)
            throws IOException {
        List<Vm> vms = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            vms.add(vm(i, escapeEvery > 0 && i % escapeEvery == 0));
        }
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator((OutputStream) expected)) {
            gen.writeStartArray();
            for (Vm vm : vms) {
                VmJson.writeVmWithJackson(gen, vm);
            }
            gen.writeEndArray();
        }
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        written.write('[');
        assertThat(VmJson.writeVmElements(vms.iterator(), written)).isEqualTo(count);
        written.write(']');
        assertThat(written.toString(StandardCharsets.UTF_8)).isEqualTo(expected.toString(StandardCharsets.UTF_8));
    }
}
