package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.SimulatedDriver;
import io.horcrux.testkit.SimulatedVmManagerContract;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;

/**
 * The manager's behaviour over SQLite stores, on a file or in memory: each store is its own
 * database, and after each test no reader connection is left borrowed.
 */
abstract class SqliteVmManagerContract extends SimulatedVmManagerContract {
    private final List<SqliteVmStore> stores = new ArrayList<>();

    /** Where the {@code n}th store of a test lives: a builder with its file or in-memory name set. */
    protected abstract SqliteVmStore.Builder database(int n);

    @Override
    protected VmStore newStore() {
        SqliteVmStore store = database(stores.size()).leakDetectionThreshold(Duration.ofSeconds(2)).build();
        stores.add(store);
        return store;
    }

    @Override
    protected SimulatedDriver newDriver() {
        return SimulatedDriver.create();
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
