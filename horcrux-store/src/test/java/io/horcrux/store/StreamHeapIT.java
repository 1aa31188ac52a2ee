package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.testkit.ChildJvm;
import io.horcrux.model.Vm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 100,000 VMs stream through a JVM whose heap cannot hold them: the same child, told to load
 * them into a list instead, runs out of memory. The stream leaks no connection.
 */
class StreamHeapIT {
    private static final int VMS = 100_000;
    private static final String SMALL_HEAP = "48m";

    @TempDir
    Path dir;

    @Test
    void aHundredThousandVmsStreamInBoundedHeapAndLeakNoConnection() throws Exception {
        Path db = dir.resolve("big.db");
        try (SqliteVmStore store = SqliteVmStore.open(db)) {
            for (int from = 0; from < VMS; from += 1000) {
                List<Vm> batch = new ArrayList<>(1000);
                for (int i = from; i < from + 1000; i++) {
                    batch.add(SampleVms.vm(String.format("vm-%06d", i), Map.of(
                            "env", "production", "team", "inventory-" + (i % 50),
                            "rack", "rack-" + (i % 400), "owner", "someone-with-a-long-name-" + i)));
                }
                store.insertAll(batch);
            }
        }

        try (ChildJvm streaming = ChildJvm.start(dir, StoreChild.class, SMALL_HEAP, "stream", db.toString())) {
            String line = streaming.readLine();
            int exit = streaming.waitFor();
            assertThat(line).as("child stderr: %s", streaming.stderr()).isEqualTo("STREAMED " + VMS + " ACTIVE 0");
            assertThat(exit).isZero();
            assertThat(streaming.stderr()).doesNotContain("leak");
        }

        try (ChildJvm collecting = ChildJvm.start(dir, StoreChild.class, SMALL_HEAP, "collect", db.toString())) {
            String line = collecting.readLine();
            int exit = collecting.waitFor();
            assertThat(line).isNull();
            assertThat(exit).isNotZero();
            assertThat(collecting.stderr()).contains("java.lang.OutOfMemoryError");
        }
    }
}
