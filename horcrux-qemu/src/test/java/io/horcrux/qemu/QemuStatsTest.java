package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.horcrux.model.DiskStats;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The parsing of live stats, on text as Linux and QEMU give it. */
class QemuStatsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void cpuTicksAreUtimePlusStimeEvenWhenTheThreadNameHoldsSpacesAndParentheses() {
        String stat = "4242 (CPU 0/TCG) x) S 1 4200 4200 0 -1 4194368 12 0 0 0 1234 567 0 0 20 0 3 0 554052 "
                + "1291845632 20000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 -1 0 0 0 0 0 0\n";
        assertThat(QemuStats.cpuTicks(stat)).isEqualTo(1234 + 567);
    }

    @Test
    void aTruncatedStatLineIsRefused() {
        assertThatThrownBy(() -> QemuStats.cpuTicks("4242 (qemu) S 1 2 3"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("utime");
        assertThatThrownBy(() -> QemuStats.cpuTicks("garbage")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void rssIsTheVmRssLineInBytes() {
        String status = "Name:\tqemu-system-x86\nVmPeak:\t 1300000 kB\nVmRSS:\t  204800 kB\nRssAnon:\t  190000 kB\n";
        assertThat(QemuStats.rssBytes(status)).isEqualTo(204800L * 1024);
        assertThatThrownBy(() -> QemuStats.rssBytes("Name:\tkthreadd\nState:\tS (sleeping)\n"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("VmRSS");
    }

    @Test
    void uptimeIsTheHostUptimeMinusTheStartTimeInTicksOfOneHundredthOfASecond() {
        // Started 5540.53 s - 5530.00 s = 10.53 s ago: start ticks 553000 at 100 per second.
        assertThat(QemuStats.uptime("5540.53 4640.35\n", 553_000)).isEqualTo(Duration.ofMillis(10_530));
        assertThat(QemuStats.uptime("12.00 3.00\n", 1_250)).as("clocks read apart never go negative")
                .isEqualTo(Duration.ZERO);
        assertThatThrownBy(() -> QemuStats.uptime("soon", 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void vcpuThreadIdsAreDistinct() throws Exception {
        JsonNode cpus = JSON.readTree("""
                [{"cpu-index":0,"qom-path":"/machine/unattached/device[0]","thread-id":4242,"target":"x86_64"},
                 {"cpu-index":1,"qom-path":"/machine/unattached/device[1]","thread-id":4243,"target":"x86_64"},
                 {"cpu-index":2,"qom-path":"/machine/unattached/device[2]","thread-id":4243,"target":"x86_64"}]""");
        assertThat(QemuStats.vcpuThreadIds(cpus)).containsExactly(4242L, 4243L);
        assertThatThrownBy(() -> QemuStats.vcpuThreadIds(JSON.readTree("[{\"cpu-index\":0}]")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("thread id");
        assertThatThrownBy(() -> QemuStats.vcpuThreadIds(JSON.readTree("{}"))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void blockstatsAreMappedToTheSpecsDiskNamesByDeviceId() throws Exception {
        JsonNode blockstats = JSON.readTree("""
                [{"device":"","node-name":"disk1","qdev":"/machine/peripheral/disk1/virtio-backend",
                  "stats":{"rd_bytes":512,"wr_bytes":4194304,"rd_operations":1,"wr_operations":4,"flush_operations":2}},
                 {"device":"","node-name":"disk0","qdev":"/machine/peripheral/disk0/virtio-backend",
                  "stats":{"rd_bytes":1048576,"wr_bytes":0,"rd_operations":64,"wr_operations":0}},
                 {"device":"","qdev":"/machine/peripheral/cdrom0/virtio-backend",
                  "stats":{"rd_bytes":7,"wr_bytes":7,"rd_operations":7,"wr_operations":7}}]""");
        Map<String, DiskStats> disks = QemuStats.disks(blockstats, List.of("root", "data", "scratch"));
        assertThat(disks).containsExactly(
                Map.entry("root", new DiskStats(1_048_576, 0, 64, 0)),
                Map.entry("data", new DiskStats(512, 4_194_304, 1, 4)),
                Map.entry("scratch", DiskStats.ZERO));
    }

    @Test
    void anEntryWithoutADeviceIsMatchedByItsNodeNameAndABadCounterIsRefused() throws Exception {
        JsonNode byNode = JSON.readTree("""
                [{"node-name":"disk0","stats":{"rd_bytes":1,"wr_bytes":2,"rd_operations":3,"wr_operations":4}},
                 {"node-name":"file0","stats":{"rd_bytes":9,"wr_bytes":9,"rd_operations":9,"wr_operations":9}}]""");
        assertThat(QemuStats.disks(byNode, List.of("root"))).containsExactly(Map.entry("root", new DiskStats(1, 2, 3, 4)));
        JsonNode negative = JSON.readTree("""
                [{"qdev":"/machine/peripheral/disk0/virtio-backend","stats":{"wr_bytes":-1}}]""");
        assertThatThrownBy(() -> QemuStats.disks(negative, List.of("root")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("wr_bytes");
    }

    @Test
    void theStatsOfThisVeryProcessParseAsAQemuOnesWould() throws Exception {
        long pid = ProcessHandle.current().pid();
        String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/task/" + pid + "/stat"));
        assertThat(QemuStats.cpuTicks(stat)).isNotNegative();
        assertThat(QemuStats.rssBytes(java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/status"))))
                .isGreaterThan(1L << 20);
    }
}
