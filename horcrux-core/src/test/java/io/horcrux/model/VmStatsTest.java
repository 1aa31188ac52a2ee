package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VmStatsTest {
    private static final DiskStats SOME = new DiskStats(1, 2, 3, 4);

    @Test
    void negativeFiguresAreRefusedByName() {
        assertThatThrownBy(() -> new DiskStats(0, -1, 0, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("writtenBytes");
        assertThatThrownBy(() -> new DiskStats(0, 0, 0, -1)).hasMessageContaining("writeOps");
        assertThatThrownBy(() -> new VmStats(Duration.ofSeconds(-1), 0, Duration.ZERO, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cpuTime");
        assertThatThrownBy(() -> new VmStats(Duration.ZERO, -1, Duration.ZERO, Map.of())).hasMessageContaining("memoryRssBytes");
        assertThatThrownBy(() -> new VmStats(Duration.ZERO, 0, Duration.ofMillis(-1), Map.of())).hasMessageContaining("uptime");
    }

    @Test
    void nullsAreRefusedIncludingInsideTheDisks() {
        assertThatThrownBy(() -> new VmStats(null, 0, Duration.ZERO, Map.of())).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new VmStats(Duration.ZERO, 0, Duration.ZERO, null)).isInstanceOf(NullPointerException.class);
        Map<String, DiskStats> nullValue = new HashMap<>();
        nullValue.put("root", null);
        assertThatThrownBy(() -> new VmStats(Duration.ZERO, 0, Duration.ZERO, nullValue))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("root");
        Map<String, DiskStats> nullKey = new HashMap<>();
        nullKey.put(null, SOME);
        assertThatThrownBy(() -> new VmStats(Duration.ZERO, 0, Duration.ZERO, nullKey)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void theDisksAreCopiedInTheirOrderAndCannotBeChanged() {
        Map<String, DiskStats> disks = new LinkedHashMap<>();
        disks.put("root", SOME);
        disks.put("data", DiskStats.ZERO);
        disks.put("aux", SOME);
        VmStats stats = new VmStats(Duration.ofSeconds(1), 10, Duration.ofSeconds(2), disks);
        disks.clear();
        assertThat(stats.disks().keySet()).containsExactly("root", "data", "aux");
        assertThatThrownBy(() -> stats.disks().put("x", SOME)).isInstanceOf(UnsupportedOperationException.class);
        assertThat(stats.disk("root")).isEqualTo(SOME);
        assertThatThrownBy(() -> stats.disk("swap")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("swap").hasMessageContaining("root");
    }
}
