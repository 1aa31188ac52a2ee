package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.qemu.HostProbe.Attempt;
import io.horcrux.qemu.HostProbe.Choice;
import io.horcrux.qemu.HostProbe.Outcome;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The candidate order and the fall-backs, with a runner that answers as scripted. */
class HostProbeTest {
    private static final String MSR = "failed to set MSR 0x10a to 0x69";

    /** Answers per "ACCEL model"; anything unscripted runs. Records what was asked. */
    static final class ScriptedRunner implements HostProbe.Runner {
        final Map<String, Attempt> answers = new HashMap<>();
        final List<String> asked = new ArrayList<>();
        List<String> usable = List.of();

        ScriptedRunner answer(Accelerator accelerator, String model, Outcome outcome, String detail) {
            answers.put(accelerator + " " + model, new Attempt(accelerator, model, outcome, detail));
            return this;
        }

        @Override
        public Attempt run(Accelerator accelerator, String cpuModel) {
            asked.add(accelerator + " " + cpuModel);
            return answers.getOrDefault(accelerator + " " + cpuModel, new Attempt(accelerator, cpuModel, Outcome.RAN, ""));
        }

        @Override
        public List<String> usableKvmModels() {
            asked.add("query-cpu-definitions");
            return usable;
        }
    }

    @Test
    void hostPassthroughIsPreferredAndTriedAlone() {
        ScriptedRunner runner = new ScriptedRunner();
        Choice choice = new HostProbe(runner, true).choose(Accelerator.AUTO, null);
        assertThat(choice.accelerator()).isEqualTo(Accelerator.KVM);
        assertThat(choice.cpuModel()).isEqualTo("host");
        assertThat(choice.warning()).isFalse();
        assertThat(runner.asked).containsExactly("KVM host");
        assertThat(choice.summary()).isEqualTo("accelerator KVM, CPU model host");
    }

    @Test
    void hostRefusedThenMaxIsTriedAndTheRefusalIsInTheSummary() {
        ScriptedRunner runner = new ScriptedRunner().answer(Accelerator.KVM, "host", Outcome.REFUSED, MSR);
        Choice choice = new HostProbe(runner, true).choose(Accelerator.AUTO, null);
        assertThat(choice.cpuModel()).isEqualTo("max");
        assertThat(runner.asked).containsExactly("KVM host", "KVM max");
        assertThat(choice.summary()).isEqualTo("accelerator KVM, CPU model max (KVM refused -cpu host: " + MSR + ")");
    }

    @Test
    void thenTheBestUsableNamed64BitModelAndNever32BitOnes() {
        ScriptedRunner runner = new ScriptedRunner()
                .answer(Accelerator.KVM, "host", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "max", Outcome.REFUSED, MSR);
        runner.usable = List.of("max", "host", "base", "pentium3", "486", "Nehalem", "EPYC-Rome", "EPYC");
        Choice choice = new HostProbe(runner, true).choose(Accelerator.AUTO, null);
        assertThat(choice.accelerator()).isEqualTo(Accelerator.KVM);
        assertThat(choice.cpuModel()).isEqualTo("EPYC-Rome");
        assertThat(runner.asked).containsExactly("KVM host", "KVM max", "query-cpu-definitions", "KVM EPYC-Rome");
    }

    @Test
    void thenQemu64WhenNoNamedModelIsUsable() {
        ScriptedRunner runner = new ScriptedRunner()
                .answer(Accelerator.KVM, "host", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "max", Outcome.REFUSED, MSR);
        runner.usable = List.of("pentium3", "486");
        Choice choice = new HostProbe(runner, true).choose(Accelerator.AUTO, null);
        assertThat(choice.cpuModel()).isEqualTo("qemu64");
        assertThat(runner.asked).containsExactly("KVM host", "KVM max", "query-cpu-definitions", "KVM qemu64");
    }

    @Test
    void hostRefusedThenMaxRefusedThenEverythingRefusedIsTcgWithAWarning() {
        ScriptedRunner runner = new ScriptedRunner()
                .answer(Accelerator.KVM, "host", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "max", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "EPYC", Outcome.GUEST_FAILED, "KVM internal error. Suberror: 1")
                .answer(Accelerator.KVM, "qemu64", Outcome.GUEST_FAILED, "KVM internal error. Suberror: 1");
        runner.usable = List.of("EPYC");
        Choice choice = new HostProbe(runner, true).choose(Accelerator.AUTO, null);
        assertThat(choice.accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(choice.cpuModel()).isEqualTo("max");
        assertThat(choice.warning()).as("/dev/kvm opens, yet TCG: worth a warning").isTrue();
        assertThat(runner.asked).containsExactly("KVM host", "KVM max", "query-cpu-definitions", "KVM EPYC",
                "KVM qemu64", "TCG max");
        assertThat(choice.summary()).contains("KVM refused -cpu host: " + MSR)
                .contains("KVM starts -cpu qemu64 but cannot run guest code: KVM internal error");
    }

    @Test
    void withoutAKvmDeviceNoKvmCandidateIsTriedAndTcgIsChecked() {
        ScriptedRunner runner = new ScriptedRunner();
        Choice choice = new HostProbe(runner, false).choose(Accelerator.AUTO, null);
        assertThat(choice.accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(choice.warning()).isFalse();
        assertThat(runner.asked).containsExactly("TCG max");
    }

    @Test
    void forcedKvmWithNothingRunningFailsNamingEveryCandidate() {
        ScriptedRunner runner = new ScriptedRunner()
                .answer(Accelerator.KVM, "host", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "max", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "qemu64", Outcome.GUEST_FAILED, "KVM internal error. Suberror: 1");
        assertThatThrownBy(() -> new HostProbe(runner, true).choose(Accelerator.KVM, null))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("no CPU model runs guest code under KVM")
                .hasMessageContaining("KVM refused -cpu host: " + MSR)
                .hasMessageContaining("KVM refused -cpu max")
                .hasMessageContaining("-cpu qemu64 but cannot run guest code: KVM internal error")
                .hasMessageContaining("Accelerator.AUTO or TCG");
        assertThat(runner.asked).doesNotContain("TCG max");
    }

    @Test
    void forcedKvmWithoutTheDeviceFailsBeforeRunningAnything() {
        ScriptedRunner runner = new ScriptedRunner();
        assertThatThrownBy(() -> new HostProbe(runner, false).choose(Accelerator.KVM, null))
                .isInstanceOf(DriverException.class).hasMessageContaining("/dev/kvm");
        assertThat(runner.asked).isEmpty();
    }

    @Test
    void forcedTcgChecksOnlyTcgAndFailsWhenEvenThatCannotRun() {
        ScriptedRunner runner = new ScriptedRunner();
        assertThat(new HostProbe(runner, true).choose(Accelerator.TCG, null).cpuModel()).isEqualTo("max");
        assertThat(runner.asked).containsExactly("TCG max");
        ScriptedRunner broken = new ScriptedRunner().answer(Accelerator.TCG, "max", Outcome.GUEST_FAILED, "faulted");
        assertThatThrownBy(() -> new HostProbe(broken, true).choose(Accelerator.TCG, null))
                .isInstanceOf(DriverException.class).hasMessageContaining("even under TCG").hasMessageContaining("faulted");
    }

    @Test
    void anExplicitModelIsOnlyChecked() {
        ScriptedRunner runner = new ScriptedRunner();
        Choice choice = new HostProbe(runner, true).choose(Accelerator.AUTO, "EPYC-Rome");
        assertThat(choice.accelerator()).isEqualTo(Accelerator.KVM);
        assertThat(choice.cpuModel()).isEqualTo("EPYC-Rome");
        assertThat(runner.asked).containsExactly("KVM EPYC-Rome");
    }

    @Test
    void anUnknownExplicitModelFailsNamingQemusWordsAndWhatWorks() {
        ScriptedRunner runner = new ScriptedRunner()
                .answer(Accelerator.KVM, "nosuch", Outcome.UNKNOWN_MODEL, "unable to find CPU model 'nosuch'")
                .answer(Accelerator.KVM, "host", Outcome.REFUSED, MSR);
        assertThatThrownBy(() -> new HostProbe(runner, true).choose(Accelerator.AUTO, "nosuch"))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("CPU model 'nosuch' cannot be used here")
                .hasMessageContaining("unable to find CPU model 'nosuch'")
                .hasMessageContaining("what runs guest code here: KVM max, TCG max");
    }

    @Test
    void anExplicitModelRefusedUnderForcedKvmFailsButOneThatOnlyFailsGuestCodeIsKeptWithAWarning() {
        ScriptedRunner runner = new ScriptedRunner()
                .answer(Accelerator.KVM, "host", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "max", Outcome.REFUSED, MSR)
                .answer(Accelerator.KVM, "qemu64", Outcome.GUEST_FAILED, "KVM internal error. Suberror: 1");
        assertThatThrownBy(() -> new HostProbe(runner, true).choose(Accelerator.KVM, "host"))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("CPU model 'host' cannot be used here: KVM refused -cpu host: " + MSR)
                .hasMessageContaining("what runs guest code here: TCG max");
        Choice kept = new HostProbe(runner, true).choose(Accelerator.KVM, "qemu64");
        assertThat(kept.accelerator()).isEqualTo(Accelerator.KVM);
        assertThat(kept.cpuModel()).isEqualTo("qemu64");
        assertThat(kept.warning()).isTrue();
    }

    @Test
    void anExplicitModelUnderAutoFallsBackToTcgWithTheSameModel() {
        ScriptedRunner runner = new ScriptedRunner()
                .answer(Accelerator.KVM, "qemu64", Outcome.GUEST_FAILED, "KVM internal error. Suberror: 1");
        Choice choice = new HostProbe(runner, true).choose(Accelerator.AUTO, "qemu64");
        assertThat(choice.accelerator()).isEqualTo(Accelerator.TCG);
        assertThat(choice.cpuModel()).isEqualTo("qemu64");
        assertThat(choice.warning()).isTrue();
        assertThat(runner.asked).containsExactly("KVM qemu64", "TCG qemu64");
    }

    @Test
    void hostileModelNamesAreRefusedNamingTheRule() {
        for (String hostile : List.of("host,-arch-capabilities", "max -accel tcg", "", "-cpu", "a\nb", "x".repeat(65),
                "qemu64,+vmx", "../host")) {
            assertThatThrownBy(() -> HostProbe.requireModelName(hostile)).as(hostile)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cpuModel must be a QEMU CPU model name")
                    .hasMessageContaining("no commas, spaces or feature flags");
        }
        assertThat(HostProbe.requireModelName("Skylake-Server-noTSX-IBRS")).isEqualTo("Skylake-Server-noTSX-IBRS");
        assertThat(HostProbe.requireModelName("Opteron_G5")).isEqualTo("Opteron_G5");
    }
}
