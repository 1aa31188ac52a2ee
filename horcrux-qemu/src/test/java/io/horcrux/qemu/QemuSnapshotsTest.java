package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the images of a running VM hold, asked while a snapshot job a killed manager started still
 * runs in QEMU: the answer waits for the job to conclude and dismisses it. Against a scripted QMP
 * server, because real QEMU cannot be made to keep a job running on demand (a killed manager's
 * job has always concluded by the time the next JVM is up, as {@code SnapshotCrashIT} sees).
 */
class QemuSnapshotsTest {
    private Path dir;
    private FakeQmpServer server;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "qmp-snap");
    }

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            server.close();
        }
        Files.deleteIfExists(dir.resolve("qmp.sock"));
        Files.deleteIfExists(dir);
    }

    @Test
    void theSnapshotNamesOfARunningVmWaitForAJobLeftRunningAndDismissIt() throws Exception {
        AtomicInteger polls = new AtomicInteger();
        server = new FakeQmpServer(dir.resolve("qmp.sock"), (c, conn) -> {
            switch (c.execute()) {
                case "query-jobs" -> conn.reply(c, polls.incrementAndGet() < 4
                        ? "[{\"current-progress\": 0, \"status\": \"running\", \"total-progress\": 1,"
                                + " \"id\": \"horcrux-snapshot-save-1\", \"type\": \"snapshot-save\"}]"
                        : "[{\"current-progress\": 1, \"status\": \"concluded\", \"total-progress\": 1,"
                                + " \"id\": \"horcrux-snapshot-save-1\", \"type\": \"snapshot-save\"}]");
                case "query-named-block-nodes" -> conn.reply(c, "[{\"node-name\": \"disk0\", \"image\": {\"snapshots\":"
                        + " [{\"name\": \"m1\", \"vm-state-size\": 1024}]}}, {\"node-name\": \"file0\", \"image\": {}},"
                        + " {\"node-name\": \"disk1\", \"image\": {\"snapshots\": [{\"name\": \"m1\"}]}}]");
                // Its argument "id" is the job's, not the command's: answered as to a command without one.
                case "job-dismiss" -> conn.send("{\"return\": {}}\n");
                default -> conn.reply(c, "{}");
            }
        });
        VmSpec spec = VmSpec.builder().id("hot").memoryMiB(64).disk(DiskSpec.qcow2("root", 1L << 20))
                .disk(DiskSpec.qcow2("data", 1L << 20)).build();
        Vm vm = new Vm(spec, VmStatus.RUNNING, 1, Instant.now(), Instant.now(), "", null);
        try (QmpClient qmp = QmpClient.connect(server.socket(), Duration.ofSeconds(5))) {
            Map<String, Set<String>> names = new QemuSnapshots(QemuImg.at(Path.of("/usr/bin/qemu-img"))).namesLive(vm, qmp);
            assertThat(names).containsExactly(Map.entry("root", Set.of("m1")), Map.entry("data", Set.of("m1")));
        }
        List<String> commands = server.received().stream().map(line -> line.replaceAll(".*\"execute\"\\s*:\\s*\"([^\"]+)\".*", "$1"))
                .filter(x -> !x.equals("qmp_capabilities")).toList();
        assertThat(commands).as("polled while it ran, dismissed once concluded, then read")
                .containsExactly("query-jobs", "query-jobs", "query-jobs", "query-jobs", "job-dismiss",
                        "query-named-block-nodes");
        assertThat(server.received()).anySatisfy(line -> assertThat(line).contains("job-dismiss")
                .contains("horcrux-snapshot-save-1"));
    }
}
