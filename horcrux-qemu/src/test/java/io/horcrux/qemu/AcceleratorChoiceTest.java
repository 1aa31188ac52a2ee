package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The builder's use of the probe: what it chooses, what it logs, what it refuses; scripted runs. */
class AcceleratorChoiceTest {

    @Test
    void theBuilderTakesTheProbesChoiceAndLogsItAtInfo(@TempDir Path dir) {
        HostProbeTest.ScriptedRunner runner = new HostProbeTest.ScriptedRunner()
                .answer(Accelerator.KVM, "host", HostProbe.Outcome.REFUSED, "failed to set MSR 0x10a to 0x69");
        String log = captureStderr(() -> {
            try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("s")).kvmProbe(() -> true)
                    .probeRunner(runner).build()) {
                assertThat(driver.accelerator()).isEqualTo(Accelerator.KVM);
                assertThat(driver.cpuModel()).isEqualTo("max");
                assertThat(driver.toString()).contains("KVM -cpu max");
                assertThat(driver.acceleratorChoice()).isEqualTo("accelerator KVM, CPU model max (KVM refused -cpu host:"
                        + " failed to set MSR 0x10a to 0x69)");
            }
        });
        assertThat(log).contains("INFO").contains("accelerator KVM, CPU model max")
                .contains("KVM refused -cpu host: failed to set MSR 0x10a");
    }

    @Test
    void aFallBackToTcgWhereDevKvmOpensIsAWarningWithTheReason(@TempDir Path dir) {
        HostProbeTest.ScriptedRunner runner = new HostProbeTest.ScriptedRunner();
        for (String model : new String[] {"host", "max", "qemu64"}) {
            runner.answer(Accelerator.KVM, model, HostProbe.Outcome.GUEST_FAILED, "KVM internal error. Suberror: 1");
        }
        String log = captureStderr(() -> {
            try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("s")).kvmProbe(() -> true)
                    .probeRunner(runner).build()) {
                assertThat(driver.accelerator()).isEqualTo(Accelerator.TCG);
                assertThat(driver.cpuModel()).isEqualTo("max");
            }
        });
        assertThat(log).contains("WARN").contains("KVM runs no guest code on this host").contains("TCG")
                .contains("KVM internal error");
    }

    @Test
    void withoutDevKvmTcgIsChosenAtInfo(@TempDir Path dir) {
        String log = captureStderr(() -> {
            try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("s")).kvmProbe(() -> false)
                    .probeRunner(new HostProbeTest.ScriptedRunner()).build()) {
                assertThat(driver.accelerator()).isEqualTo(Accelerator.TCG);
            }
        });
        assertThat(log).contains("INFO").contains("/dev/kvm is not usable").contains("TCG");
    }

    @Test
    void aFailedChoiceLeavesTheStateDirectoryFreeForTheNextDriver(@TempDir Path dir) {
        HostProbeTest.ScriptedRunner refusing = new HostProbeTest.ScriptedRunner()
                .answer(Accelerator.TCG, "nosuch", HostProbe.Outcome.UNKNOWN_MODEL, "unable to find CPU model 'nosuch'");
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(dir.resolve("s")).accelerator(Accelerator.TCG)
                .cpuModel("nosuch").probeRunner(refusing).build())
                .isInstanceOf(DriverException.class).hasMessageContaining("CPU model 'nosuch'");
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("s")).accelerator(Accelerator.TCG)
                .probeRunner(new HostProbeTest.ScriptedRunner()).build()) {
            assertThat(driver.cpuModel()).isEqualTo("max");
        }
    }

    @Test
    void aHostileCpuModelIsRefusedByTheBuilderNamingTheRule() {
        assertThatThrownBy(() -> QemuDriver.builder().cpuModel("host,+vmx"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cpuModel must be a QEMU CPU model name");
        assertThatThrownBy(() -> QemuDriver.builder().cpuModel("max").cpuModel("host"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("cpuModel was already set");
    }

    @Test
    void theDeviceCheckOpensTheDeviceReadWrite(@TempDir Path dir) throws Exception {
        assertThat(AcceleratorChoice.kvmUsable(dir.resolve("no-such-device"))).isFalse();
        Path writable = Files.createFile(dir.resolve("rw"));
        assertThat(AcceleratorChoice.kvmUsable(writable)).isTrue();
        assertThat(AcceleratorChoice.kvmUsable(dir)).isFalse();
    }

    private static String captureStderr(Runnable action) {
        PrintStream original = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(original);
        }
        return buffer.toString(StandardCharsets.UTF_8);
    }
}
