package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.testkit.ChildJvm;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A child JVM inserts batches in a loop and is killed with SIGKILL in the middle of one, again
 * and again on the same database, alternating synchronous=FULL and NORMAL. After every kill the
 * database opens, passes {@code PRAGMA integrity_check}, holds every batch wholly or not at all,
 * and holds every batch whose insert had returned.
 */
class CrashRecoveryIT {
    private static final Logger log = LoggerFactory.getLogger(CrashRecoveryIT.class);
    private static final int KILLS = Integer.getInteger("horcrux.store.kills", 24);

    @TempDir
    Path dir;

    @Test
    void killedWritersLeaveWholeBatchesAndLoseNoAcknowledgedOne() throws Exception {
        Path db = dir.resolve("crash.db");
        long seed = Long.getLong("horcrux.store.seed", System.nanoTime());
        Random random = new Random(seed);
        log.info("seed {} for {} kills", seed, KILLS);
        long nextBatch = 0;
        int killedInsideABatch = 0;
        for (int kill = 0; kill < KILLS; kill++) {
            String sync = kill % 2 == 0 ? "FULL" : "NORMAL";
            long lastAck = nextBatch - 1;
            try (ChildJvm child = ChildJvm.start(dir, StoreChild.class, "128m", "write", db.toString(), sync, Long.toString(nextBatch))) {
                // Kill just after the child announces a batch: its transaction is open or about to be.
                int begins = 1 + random.nextInt(6);
                String line;
                while ((line = child.readLine()) != null) {
                    if (line.startsWith("ACK ")) {
                        lastAck = Long.parseLong(line.substring(4));
                    } else if (line.startsWith("BEGIN ") && --begins == 0) {
                        LockSupport.parkNanos(random.nextInt(3_000_000));
                        break;
                    }
                }
                assertThat(line).as("child stderr: %s", child.stderr()).isNotNull();
                child.kill();
                for (String rest : child.remainingLines()) {
                    if (rest.startsWith("ACK ")) {
                        lastAck = Long.parseLong(rest.substring(4));
                    }
                }
            }

            assertThat(integrityCheck(db)).as("integrity after kill %d (seed %d)", kill, seed).isEqualTo("ok");
            Map<Long, Long> sizes = batchSizes(db);
            assertThat(sizes.values()).as("batch sizes after kill %d (seed %d)", kill, seed)
                    .allMatch(n -> n == StoreChild.BATCH);
            long highest = sizes.isEmpty() ? -1 : ((TreeMap<Long, Long>) sizes).lastKey();
            assertThat(sizes.keySet()).as("batches are contiguous from 0 (seed %d)", seed)
                    .containsExactlyElementsOf(range(0, highest));
            assertThat(highest).as("every acknowledged batch survives (kill %d, %s, seed %d)", kill, sync, seed)
                    .isGreaterThanOrEqualTo(lastAck)
                    .isLessThanOrEqualTo(lastAck + 1);
            if (highest == lastAck) {
                killedInsideABatch++;
            }
            nextBatch = highest + 1;
        }
        log.info("{} kills, {} of them before the batch in flight committed; {} batches of {} VMs intact",
                KILLS, killedInsideABatch, nextBatch, StoreChild.BATCH);
        assertThat(killedInsideABatch).as("kills that hit an uncommitted batch").isPositive();
    }

    private static List<Long> range(long from, long toInclusive) {
        List<Long> values = new ArrayList<>();
        for (long i = from; i <= toInclusive; i++) {
            values.add(i);
        }
        return values;
    }

    private static String integrityCheck(Path db) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("PRAGMA integrity_check")) {
            StringBuilder result = new StringBuilder();
            while (rs.next()) {
                result.append(result.length() == 0 ? "" : "\n").append(rs.getString(1));
            }
            return result.toString();
        }
    }

    /** VMs per batch label, through the store (which must open after the crash). */
    private static Map<Long, Long> batchSizes(Path db) {
        try (SqliteVmStore store = SqliteVmStore.open(db); Stream<Vm> vms = store.stream(VmQuery.all())) {
            return vms.collect(Collectors.groupingBy(vm -> Long.parseLong(vm.spec().labels().get("batch")),
                    TreeMap::new, Collectors.counting()));
        }
    }
}
