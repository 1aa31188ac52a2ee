package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmManagerContract;
import io.horcrux.spi.VmStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The manager's behaviour over the store on a database file; each store gets its own file
 * (one store per file). After each test no reader connection is left borrowed.
 */
class SqliteFileVmManagerTest extends VmManagerContract {
    @TempDir
    Path dir;
    private final List<SqliteVmStore> stores = new ArrayList<>();

    @Override
    protected VmStore newStore() {
        SqliteVmStore store = SqliteVmStore.builder().file(dir.resolve("manager-" + stores.size() + ".db"))
                .leakDetectionThreshold(Duration.ofSeconds(2)).build();
        stores.add(store);
        return store;
    }

    @AfterEach
    void noConnectionLeftBorrowed() {
        for (SqliteVmStore store : stores) {
            assertThat(store.activeReaderConnections()).as("reader connections in use after the test").isZero();
        }
        manager.close(); // closes its store; stores of managers a test replaced are closed here
        stores.forEach(SqliteVmStore::close);
    }
}
