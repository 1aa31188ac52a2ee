package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class VmQueryTest {
    @Test
    void allHasNoFiltersLimitOrCursor() {
        VmQuery q = VmQuery.all();
        assertThat(q.statuses()).isEmpty();
        assertThat(q.labels()).isEmpty();
        assertThat(q.limit()).isEmpty();
        assertThat(q.after()).isEmpty();
    }

    @Test
    void withersReturnNewQueriesAndKeepTheRest() {
        VmQuery q = VmQuery.all().withStatus(VmStatus.RUNNING).withLabel("env", "prod").limit(5).after("web-3");
        assertThat(q.statuses()).containsExactly(VmStatus.RUNNING);
        assertThat(q.labels()).containsEntry("env", "prod");
        assertThat(q.limit()).hasValue(5);
        assertThat(q.after()).contains("web-3");
        assertThat(VmQuery.all().limit(5)).isEqualTo(VmQuery.all().limit(5)).isNotEqualTo(VmQuery.all());
        assertThat(q.withoutPaging()).isEqualTo(VmQuery.all().withStatus(VmStatus.RUNNING).withLabel("env", "prod"));
    }

    @Test
    void limitIsBounded() {
        assertThat(VmQuery.all().limit(VmQuery.MAX_LIMIT).limit()).hasValue(VmQuery.MAX_LIMIT);
        for (int bad : new int[] {0, -1, VmQuery.MAX_LIMIT + 1}) {
            assertThatThrownBy(() -> VmQuery.all().limit(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("limit");
        }
    }

    @Test
    void cursorsAndLabelsAreChecked() {
        assertThatThrownBy(() -> VmQuery.all().after("x' OR 1=1 --")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("after");
        assertThatThrownBy(() -> VmQuery.all().after(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> VmQuery.all().withLabel("bad key", "v")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("label key");
        assertThatThrownBy(() -> VmQuery.all().withLabel("k", "a\nb")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("control");
        assertThatThrownBy(() -> VmQuery.all().withStatus(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void matchesAppliesStatusAndEveryLabel() {
        VmSpec spec = VmSpec.builder().id("a").label("env", "prod").label("team", "x").build();
        Vm vm = new Vm(spec, VmStatus.PAUSED, 1, Instant.EPOCH, Instant.EPOCH, "", new VmRuntime(1, ""));
        assertThat(VmQuery.all().matches(vm)).isTrue();
        assertThat(VmQuery.all().withStatus(VmStatus.RUNNING, VmStatus.PAUSED).matches(vm)).isTrue();
        assertThat(VmQuery.all().withStatus(VmStatus.RUNNING).matches(vm)).isFalse();
        assertThat(VmQuery.all().withLabel("env", "prod").withLabel("team", "x").matches(vm)).isTrue();
        assertThat(VmQuery.all().withLabel("env", "prod").withLabel("team", "y").matches(vm)).isFalse();
        assertThat(VmQuery.all().withLabel("missing", "prod").matches(vm)).isFalse();
    }
}
