package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Both paths of the KVM/TCG choice, driven by an injected probe. */
class AcceleratorChoiceTest {

    @Test
    void autoPicksKvmWhenItIsUsable() {
        assertThat(QemuDriver.resolveAccelerator(Accelerator.AUTO, () -> true)).isEqualTo(Accelerator.KVM);
    }

    @Test
    void autoFallsBackToTcgAndSaysSo() {
        String log = captureStderr(() ->
                assertThat(QemuDriver.resolveAccelerator(Accelerator.AUTO, () -> false)).isEqualTo(Accelerator.TCG));
        assertThat(log).contains("INFO").contains("/dev/kvm is not usable").contains("TCG");
    }

    @Test
    void forcedKvmThatIsNotUsableIsAClearError() {
        assertThatThrownBy(() -> QemuDriver.resolveAccelerator(Accelerator.KVM, () -> false))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("/dev/kvm")
                .hasMessageContaining("Accelerator.AUTO or TCG");
        assertThat(QemuDriver.resolveAccelerator(Accelerator.KVM, () -> true)).isEqualTo(Accelerator.KVM);
    }

    @Test
    void forcedTcgNeverAsksTheProbe() {
        AtomicInteger asked = new AtomicInteger();
        assertThat(QemuDriver.resolveAccelerator(Accelerator.TCG, () -> asked.incrementAndGet() > 0)).isEqualTo(Accelerator.TCG);
        assertThat(asked).hasValue(0);
    }

    @Test
    void theBuilderUsesTheProbe(@TempDir Path dir) {
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("s")).kvmProbe(() -> false).build()) {
            assertThat(driver.accelerator()).isEqualTo(Accelerator.TCG);
        }
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("s")).kvmProbe(() -> true).build()) {
            assertThat(driver.accelerator()).isEqualTo(Accelerator.KVM);
        }
    }

    @Test
    void theRealProbeOpensTheDeviceReadWrite(@TempDir Path dir) throws Exception {
        assertThat(QemuDriver.kvmUsable(dir.resolve("no-such-device"))).isFalse();
        Path writable = Files.createFile(dir.resolve("rw"));
        assertThat(QemuDriver.kvmUsable(writable)).isTrue();
        assertThat(QemuDriver.kvmUsable(dir)).isFalse();
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
