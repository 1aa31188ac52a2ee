package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmManagerContract;
import io.horcrux.spi.VmStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;

/** The manager's behaviour over the store in in-memory mode; no reader connection left borrowed. */
class SqliteInMemoryVmManagerTest extends VmManagerContract {
    private final List<SqliteVmStore> stores = new ArrayList<>();

    @Override
    protected VmStore newStore() {
        SqliteVmStore store = SqliteVmStore.builder().inMemory("manager-" + UUID.randomUUID())
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
