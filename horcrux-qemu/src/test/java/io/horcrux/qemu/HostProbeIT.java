package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The accelerator probe on this host's real QEMU: the payload runs under TCG on both machine
 * types, the automatic choice is backed by its own evidence, explicit models that QEMU does not
 * know or the host refuses fail at build naming QEMU's words, and no probe leaves a QEMU behind.
 */
class HostProbeIT {
    private static Path root;

    @BeforeAll
    static void createRoot() throws IOException {
        root = QemuItSupport.newStateDirectory("probe");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    private static QemuProbeRunner runner(MachineType machine) throws IOException {
        Path work = Files.createTempDirectory(root, "work");
        return new QemuProbeRunner(QemuItSupport.qemuBinary(), machine, work, Duration.ofSeconds(30));
    }

    @Test
    void thePayloadRunsToItsEndUnderTcgOnBothMachineTypesWithEveryInstructionItTests() throws IOException {
        for (MachineType machine : MachineType.values()) {
            HostProbe.Attempt attempt = runner(machine).run(Accelerator.TCG, "max");
            assertThat(attempt.outcome()).as(machine + ": " + attempt.detail()).isEqualTo(HostProbe.Outcome.RAN);
        }
    }

    @Test
    void aCpuModelWithoutLongModeIsAGuestFailureNotARun() throws IOException {
        HostProbe.Attempt attempt = runner(MachineType.Q35).run(Accelerator.TCG, "pentium3");
        assertThat(attempt.outcome()).isEqualTo(HostProbe.Outcome.GUEST_FAILED);
        assertThat(attempt.detail()).contains("faulted");
    }

    @Test
    void theAutomaticChoiceIsBackedByItsOwnEvidence() throws IOException {
        boolean kvmOpens = AcceleratorChoice.kvmUsable(Path.of("/dev/kvm"));
        long started = System.nanoTime();
        HostProbe.Choice choice = new HostProbe(runner(MachineType.Q35), kvmOpens).choose(Accelerator.AUTO, null);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        System.out.println("probe on this host (q35): " + choice.summary() + " in " + millis + " ms");
        List<HostProbe.Attempt> attempts = choice.attempts();
        HostProbe.Attempt last = attempts.get(attempts.size() - 1);
        assertThat(last.ran()).isTrue();
        assertThat(last.accelerator()).isEqualTo(choice.accelerator());
        assertThat(last.cpuModel()).isEqualTo(choice.cpuModel());
        boolean someKvmRan = attempts.stream().anyMatch(a -> a.accelerator() == Accelerator.KVM && a.ran());
        assertThat(choice.accelerator() == Accelerator.KVM).as(choice.summary()).isEqualTo(someKvmRan);
        assertThat(attempts.stream().filter(a -> !a.ran())).as("every refusal says why")
                .allSatisfy(a -> assertThat(a.detail()).isNotBlank());
        if (kvmOpens) {
            assertThat(attempts.get(0)).as("host passthrough is tried first")
                    .extracting(HostProbe.Attempt::accelerator, HostProbe.Attempt::cpuModel)
                    .containsExactly(Accelerator.KVM, "host");
        }
    }

    @Test
    void anUnknownCpuModelFailsAtBuildWithQemusWordsAndWhatWorksAndLeavesNothingRunning() throws IOException {
        Path state = QemuItSupport.newStateDirectory("probe-unknown");
        ProbeCache.forgetAll();
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(state).cpuModel("no-such-cpu").build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("CPU model 'no-such-cpu' cannot be used here")
                .hasMessageContaining("no-such-cpu")
                .hasMessageContaining("what runs guest code here:")
                .hasMessageContaining("TCG max");
        QemuItSupport.assertNoQemuLeftUnder(state);
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build()) {
            assertThat(driver.cpuModel()).as("the failed build released the directory").isEqualTo("max");
        }
    }

    @Test
    void everyModelTheHostRefusesFailsAtBuildWhenAskedForByName() throws IOException {
        boolean kvmOpens = AcceleratorChoice.kvmUsable(Path.of("/dev/kvm"));
        HostProbe.Choice auto = new HostProbe(runner(MachineType.Q35), kvmOpens).choose(Accelerator.AUTO, null);
        for (HostProbe.Attempt refused : auto.attempts()) {
            if (refused.outcome() != HostProbe.Outcome.REFUSED) {
                continue;
            }
            Path state = QemuItSupport.newStateDirectory("probe-refused");
            assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.KVM)
                    .cpuModel(refused.cpuModel()).build())
                    .isInstanceOf(DriverException.class)
                    .hasMessageContaining("CPU model '" + refused.cpuModel() + "' cannot be used here")
                    .hasMessageContaining(refused.detail());
            QemuItSupport.assertNoQemuLeftUnder(state);
        }
    }

    @Test
    void forcedTcgUsesMaxAndTheAnswerIsKeptForTheNextDriver() throws IOException {
        Path state = QemuItSupport.newStateDirectory("probe-tcg");
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build()) {
            assertThat(driver.accelerator()).isEqualTo(Accelerator.TCG);
            assertThat(driver.cpuModel()).isEqualTo("max");
        }
        assertThat(state.resolve(".probe").resolve("choice.json")).exists();
        ProbeCache.forgetAll();
        long started = System.nanoTime();
        try (QemuDriver again = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build()) {
            assertThat(again.cpuModel()).isEqualTo("max");
        }
        System.out.println("a build with the answer kept on disk: "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms");
    }
}
