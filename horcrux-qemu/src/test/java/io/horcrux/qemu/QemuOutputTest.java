package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** QEMU's words in error messages: its errors first, without warnings or the assertion behind them. */
class QemuOutputTest {

    @Test
    void theErrorComesWithoutTheProgramNameAndWithoutTheAssertionDump() {
        String output = """
                qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69
                qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.
                """;
        assertThat(QemuOutput.firstErrors(output, 3)).isEqualTo("failed to set MSR 0x10a to 0x69");
    }

    @Test
    void warningsAboutMissingFeaturesGiveWayToTheError() {
        String output = """
                qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]
                qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.ssse3 [bit 9]
                qemu-system-x86_64: -drive file=/nope: Could not open '/nope': No such file or directory
                """;
        assertThat(QemuOutput.firstErrors(output, 3)).isEqualTo("-drive file=/nope: Could not open '/nope': No such file or directory");
    }

    @Test
    void anAssertionAloneOrWarningsAloneAreStillReportedAndTheCountIsBounded() {
        assertThat(QemuOutput.firstErrors("qemu-system-x86_64: x.c:1: f: Assertion `a' failed.\n", 3))
                .isEqualTo("x.c:1: f: Assertion `a' failed.");
        assertThat(QemuOutput.firstErrors("qemu-system-x86_64: warning: one\nqemu-system-x86_64: warning: two\n", 1))
                .isEqualTo("warning: one");
        assertThat(QemuOutput.firstErrors("a\nb\nc\nd\n", 2)).isEqualTo("a; b");
        assertThat(QemuOutput.firstErrors("", 3)).isEmpty();
    }
}
