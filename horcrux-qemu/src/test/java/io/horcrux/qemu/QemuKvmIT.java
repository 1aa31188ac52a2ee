package io.horcrux.qemu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmDriverContract;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The driver contract with KVM forced, on machines where {@code /dev/kvm} is usable (checked
 * for real, as the driver does); where it is not, JUnit reports these tests as skipped.
 */
class QemuKvmIT extends VmDriverContract {
    private static Path state;
    private QemuDriver qemu;

    @BeforeAll
    static void requireKvm() throws IOException {
        assumeTrue(QemuDriver.kvmUsable(Path.of("/dev/kvm")), "/dev/kvm is not usable on this machine");
        state = QemuItSupport.newStateDirectory("kvm");
    }

    @AfterAll
    static void noQemuLeft() {
        if (state != null) {
            QemuItSupport.assertNoQemuLeftUnder(state);
        }
    }

    @Override
    protected VmDriver newDriver() {
        qemu = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.KVM).build();
        return qemu;
    }

    @Override
    protected void killBehindTheBack(String vmId) {
        try {
            QemuItSupport.kill(qemu, vmId, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
