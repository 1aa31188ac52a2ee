package io.horcrux.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.QemuDriver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The accelerator and CPU model a benchmark run's guests use: what the QEMU driver's probe
 * chooses on this machine, so that raw QEMU (the floor) runs exactly as Horcrux's VMs do, and
 * the baseline check compares runs made under the same hypervisor.
 */
record Hypervisor(String accelerator, String cpuModel) {
    private static Hypervisor probed;

    /** The driver's choice on this machine; probed once per JVM (the driver keeps the answer too). */
    static synchronized Hypervisor probed() {
        if (probed == null) {
            Path directory = Fixtures.tempDirectory("horcrux-bench-probe-");
            try (QemuDriver driver = QemuDriver.builder().stateDirectory(directory.resolve("vms"))
                    .accelerator(Accelerator.AUTO).build()) {
                probed = new Hypervisor(driver.accelerator().name(), driver.cpuModel());
            } finally {
                Fixtures.deleteRecursively(directory);
            }
        }
        return probed;
    }

    /** The {@code -accel} value of raw QEMU. */
    String qemuAccel() {
        return accelerator.toLowerCase(java.util.Locale.ROOT);
    }

    /** What a machine file (see {@link Suite#writeMachine}) records; empty when it records neither. */
    static Optional<Hypervisor> read(Path machineFile) throws IOException {
        if (!Files.exists(machineFile)) {
            return Optional.empty();
        }
        JsonNode machine = new ObjectMapper().readTree(machineFile.toFile());
        if (!machine.hasNonNull("accelerator") || !machine.hasNonNull("cpuModel")) {
            return Optional.empty();
        }
        return Optional.of(new Hypervisor(machine.get("accelerator").asText(), machine.get("cpuModel").asText()));
    }

    @Override
    public String toString() {
        return accelerator + " -cpu " + cpuModel;
    }
}
