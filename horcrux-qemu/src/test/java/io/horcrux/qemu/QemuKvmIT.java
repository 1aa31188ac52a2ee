package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.horcrux.model.BootSpec;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The driver contract with KVM forced, wherever {@code /dev/kvm} opens (checked for real, as
 * the driver does), with the CPU model that the probe found to start under KVM here: on a
 * working KVM host the one that runs guests ({@code host} mostly); on a host whose KVM starts
 * QEMU but cannot run guest code (a nested, page-table based KVM), the first model that starts,
 * whose guests then meet the hypervisor's failure: the last test proves that such a guest ends
 * CRASHED with a reason, never PAUSED or RUNNING.
 */
class QemuKvmIT extends QemuDriverIT {
    private static final String GUEST_CODE_VM = "guest-code";
    private static HostProbe.Attempt kvmModel;

    @BeforeAll
    static void findTheKvmModelThatStarts() throws IOException {
        assumeTrue(AcceleratorChoice.kvmUsable(Path.of("/dev/kvm")), "/dev/kvm is not usable on this machine");
        Path work = Files.createDirectories(QemuItSupport.ROOT.resolve("kvm-probe"));
        QemuProbeRunner runner = new QemuProbeRunner(QemuItSupport.qemuBinary(), MachineType.Q35, work,
                Duration.ofSeconds(30));
        // The candidates in the probe's order; the first one QEMU starts under KVM is the one to force.
        HostProbe.Attempt started = null;
        for (String model : new String[] {"host", "max", "qemu64"}) {
            HostProbe.Attempt attempt = runner.run(Accelerator.KVM, model);
            if (attempt.outcome() == HostProbe.Outcome.RAN || attempt.outcome() == HostProbe.Outcome.GUEST_FAILED) {
                started = attempt;
                break;
            }
        }
        assertThat(started).as("a CPU model that QEMU starts under KVM").isNotNull();
        kvmModel = started;
        System.out.println("QemuKvmIT runs with KVM -cpu " + kvmModel.cpuModel() + ": " + kvmModel.describe());
    }

    @Override
    protected Accelerator accelerator() {
        return Accelerator.KVM;
    }

    @Override
    protected Optional<String> cpuModel() {
        return Optional.of(kvmModel.cpuModel());
    }

    @Override
    protected VmSpec spec(String id) {
        if (!id.equals(GUEST_CODE_VM)) {
            return super.spec(id);
        }
        // The probe's own payload as the guest's kernel: the first instructions a Linux kernel runs.
        try {
            Path kernel = ProbePayload.writeTo(state().resolve("probe-payload-kernel.bin"));
            return VmSpec.builder().id(id).memoryMiB(64).cpus(1).boot(BootSpec.kernel(kernel.toString(), null, null)).build();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aGuestTheHypervisorCannotRunIsACrashWithAReasonNotAPause() throws Exception {
        VmSpec spec = provisioned(GUEST_CODE_VM);
        driver.start(spec);
        if (kvmModel.ran()) {
            // This host's KVM runs the payload: it halts after its last instruction, still running.
            Thread.sleep(3000);
            assertThat(driver.status(spec.id())).isEqualTo(VmStatus.RUNNING);
            assertThat(notices).isEmpty();
            return;
        }
        Notice notice = awaitNotice(spec.id());
        assertThat(notice.status()).isEqualTo(VmStatus.CRASHED);
        assertThat(notice.reason()).contains("internal-error").contains("could not run the guest's code")
                .contains("CPU model " + kvmModel.cpuModel()).contains("Accelerator.TCG");
        assertThat(driver.status(spec.id())).isEqualTo(VmStatus.CRASHED);
        assertThat(QemuItSupport.qemuProcessesUnder(state().resolve(spec.id()))).as("QEMU was ended").isEmpty();
        assertThat(notices).as("one notice, no PAUSED before it").isEmpty();
    }
}
