package io.horcrux.model;

import static io.horcrux.model.VmStatus.CRASHED;
import static io.horcrux.model.VmStatus.PAUSED;
import static io.horcrux.model.VmStatus.RUNNING;
import static io.horcrux.model.VmStatus.STARTING;
import static io.horcrux.model.VmStatus.STOPPED;
import static io.horcrux.model.VmStatus.STOPPING;
import static io.horcrux.model.VmStatus.TEMPLATE;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class VmStatusTest {
    /** The state machine, written out once more by hand: every pair not listed is illegal. */
    private static final Map<VmStatus, Set<VmStatus>> LEGAL = Map.of(
            STOPPED, EnumSet.of(STARTING, TEMPLATE),
            STARTING, EnumSet.of(RUNNING, PAUSED, STOPPED, CRASHED),
            RUNNING, EnumSet.of(PAUSED, STOPPING, STOPPED, CRASHED),
            PAUSED, EnumSet.of(RUNNING, STOPPING, STOPPED, CRASHED),
            STOPPING, EnumSet.of(STOPPED, CRASHED, RUNNING, PAUSED),
            CRASHED, EnumSet.of(STARTING, STOPPING, STOPPED),
            TEMPLATE, EnumSet.noneOf(VmStatus.class));

    @Test
    void everyPairIsLegalExactlyWhenTheTableSaysSo() {
        int checked = 0;
        for (VmStatus from : VmStatus.values()) {
            for (VmStatus to : VmStatus.values()) {
                assertThat(from.canMoveTo(to)).as(from + " -> " + to).isEqualTo(LEGAL.get(from).contains(to));
                checked++;
            }
        }
        assertThat(checked).isEqualTo(49);
    }

    @Test
    void noStatusMovesToItself() {
        for (VmStatus s : VmStatus.values()) {
            assertThat(s.canMoveTo(s)).as(s.name()).isFalse();
        }
    }

    @Test
    void activeMeansAProcessMayExist() {
        assertThat(EnumSet.allOf(VmStatus.class).stream().filter(VmStatus::isActive))
                .containsExactlyInAnyOrder(STARTING, RUNNING, PAUSED, STOPPING);
    }

    @Test
    void successorsAreReadOnly() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> STOPPED.successors().add(RUNNING))
                .isInstanceOf(UnsupportedOperationException.class);
    }
}
