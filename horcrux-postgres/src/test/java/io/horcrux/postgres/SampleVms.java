package io.horcrux.postgres;

import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.time.Instant;
import java.util.Map;

/** VMs for the store's tests: realistic shapes (a disk, a NIC, labels). */
final class SampleVms {
    static final Instant T0 = Instant.parse("2026-01-02T03:04:05.123456789Z");

    private SampleVms() {
    }

    static Vm vm(String id, Map<String, String> labels) {
        VmSpec.Builder spec = VmSpec.builder().id(id).name("VM " + id).memoryMiB(256).cpus(2)
                .disk(DiskSpec.qcow2("root", 1L << 30))
                .nic(new NicSpec("eth0", "52:54:00:12:34:56")); // a fixed MAC: equal calls give equal VMs
        labels.forEach(spec::label);
        return new Vm(spec.build(), VmStatus.STOPPED, 1, T0, T0, "", null);
    }

    static Vm vm(String id) {
        return vm(id, Map.of("env", "test", "team", "store"));
    }
}
