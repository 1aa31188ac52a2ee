package io.horcrux.qemu;

import io.horcrux.spi.VmDriver;
import io.horcrux.testkit.VmDriverContract;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The driver contract against real {@code qemu-system-x86_64} processes: TCG forced, the default Q35 machine. */
class QemuDriverIT extends VmDriverContract {
    private static Path state;
    private QemuDriver qemu;

    @BeforeAll
    static void createStateDirectory() throws IOException {
        state = QemuItSupport.newStateDirectory("contract");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(state);
    }

    /** The accelerator the contract runs with; {@link QemuKvmIT} forces KVM. */
    protected Accelerator accelerator() {
        return Accelerator.TCG;
    }

    /** The CPU model the contract runs with; empty: the probe's choice. */
    protected java.util.Optional<String> cpuModel() {
        return java.util.Optional.empty();
    }

    /** The state directory of this class's drivers. */
    protected static Path state() {
        return state;
    }

    @Override
    protected VmDriver newDriver() {
        qemu = build();
        return qemu;
    }

    @Override
    protected Optional<Supplier<VmDriver>> secondDriverOnTheSameState() {
        return Optional.of(this::build);
    }

    private QemuDriver build() {
        QemuDriver.Builder builder = QemuDriver.builder().stateDirectory(state).accelerator(accelerator());
        cpuModel().ifPresent(builder::cpuModel);
        return builder.build();
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
