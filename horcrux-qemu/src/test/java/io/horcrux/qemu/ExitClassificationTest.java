package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.VmStatus;
import org.junit.jupiter.api.Test;

/** What an exit nobody asked for means. */
class ExitClassificationTest {

    @Test
    void aGuestShutdownOrAQuitOnTheMonitorIsStopped() {
        assertThat(ExitClassification.of("guest-shutdown", true, "eof", 7))
                .isEqualTo(new ExitClassification(VmStatus.STOPPED, "guest powered off"));
        assertThat(ExitClassification.of("guest-reset", true, "eof", 7).status()).isEqualTo(VmStatus.STOPPED);
        assertThat(ExitClassification.of("host-qmp-quit", true, "eof", 7))
                .isEqualTo(new ExitClassification(VmStatus.STOPPED, "QEMU quit on a monitor command"));
    }

    @Test
    void aSignalALostMonitorOrASilentDeathIsACrash() {
        assertThat(ExitClassification.of("host-signal", true, "eof", 7))
                .isEqualTo(new ExitClassification(VmStatus.CRASHED, "QEMU was terminated by a signal"));
        assertThat(ExitClassification.of(null, false, "garbage on the line", 7))
                .isEqualTo(new ExitClassification(VmStatus.CRASHED,
                        "QEMU monitor connection lost (garbage on the line); process killed"));
        assertThat(ExitClassification.of(null, true, "eof", 42))
                .isEqualTo(new ExitClassification(VmStatus.CRASHED, "QEMU process (pid 42) died unexpectedly"));
    }
}
