package io.horcrux.qemu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;

/**
 * The driver contract with KVM forced, on machines where {@code /dev/kvm} is usable (checked
 * for real, as the driver does); where it is not, JUnit reports these tests as skipped.
 */
class QemuKvmIT extends QemuDriverIT {
    @BeforeAll
    static void requireKvm() {
        assumeTrue(QemuDriver.kvmUsable(Path.of("/dev/kvm")), "/dev/kvm is not usable on this machine");
    }

    @Override
    protected Accelerator accelerator() {
        return Accelerator.KVM;
    }
}
