package io.horcrux;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.VmStatus;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The lifecycle table agrees with the state machine: every move a row records is one it allows. */
class LifecycleOperationTest {

    @Test
    void everyRowMovesOnlyAlongTheStateMachine() {
        for (LifecycleOperation op : LifecycleOperation.values()) {
            for (VmStatus from : VmStatus.values()) {
                if (!op.allowedFrom(from)) {
                    continue;
                }
                VmStatus at = from;
                if (op.through() != null) {
                    assertThat(at.canMoveTo(op.through().status())).as("%s: %s -> %s", op, at, op.through().status())
                            .isTrue();
                    at = op.through().status();
                    // What VmDriver.status may answer.
                    for (VmStatus seen : new VmStatus[] {VmStatus.RUNNING, VmStatus.PAUSED, VmStatus.CRASHED,
                            VmStatus.STOPPED}) {
                        VmStatus back = op.statusAfterFailure(new VmLike(from).vm(), () -> seen);
                        assertThat(back == at || at.canMoveTo(back)).as("%s failed from %s, driver sees %s: back to %s",
                                op, from, seen, back).isTrue();
                    }
                }
                if (op.to() != null) {
                    assertThat(at.canMoveTo(op.to().status())).as("%s: %s -> %s", op, at, op.to().status()).isTrue();
                }
            }
        }
    }

    @Test
    void labelsAreTheManagersMethodNames() {
        assertThat(Arrays.stream(LifecycleOperation.values()).map(LifecycleOperation::label))
                .containsExactly("start", "stop", "pause", "resume", "reset");
        for (LifecycleOperation op : LifecycleOperation.values()) {
            assertThat(Arrays.stream(VmManager.class.getMethods()).map(java.lang.reflect.Method::getName))
                    .contains(op.label());
        }
    }

    @Test
    void onlyAStartGivesTheVmNewRuntimeFacts() {
        for (LifecycleOperation op : LifecycleOperation.values()) {
            assertThat(op.call().newRuntime()).as("%s", op).isEqualTo(op == LifecycleOperation.START);
        }
    }

    @Test
    void aForcedStopSaysSo() {
        assertThat(LifecycleOperation.STOP.through().reason(java.time.Duration.ZERO)).isEqualTo("forced stop requested");
        assertThat(LifecycleOperation.STOP.to().reason(java.time.Duration.ZERO)).isEqualTo("forced off");
        assertThat(LifecycleOperation.STOP.to().reason(java.time.Duration.ofSeconds(1))).isEqualTo("stopped");
    }

    private record VmLike(VmStatus status) {
        io.horcrux.model.Vm vm() {
            return new io.horcrux.model.Vm(io.horcrux.model.VmSpec.builder().id("a").build(), status, 1,
                    java.time.Instant.EPOCH, java.time.Instant.EPOCH, "", null);
        }
    }
}
