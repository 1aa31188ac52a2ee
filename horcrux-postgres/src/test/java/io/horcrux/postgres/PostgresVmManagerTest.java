package io.horcrux.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.SimulatedDriver;
import io.horcrux.testkit.SimulatedVmManagerContract;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The manager's behaviour over the PostgreSQL store and the simulated driver: each store of a
 * test is its own schema, and after each test no connection is left borrowed.
 */
class PostgresVmManagerTest extends SimulatedVmManagerContract {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    private final List<PostgresVmStore> stores = new ArrayList<>();

    @Override
    protected VmStore newStore() {
        PostgresVmStore store = db.freshStore("manager").leakDetectionThreshold(Duration.ofSeconds(2)).build();
        stores.add(store);
        return store;
    }

    @Override
    protected SimulatedDriver newDriver() {
        return SimulatedDriver.create();
    }

    @AfterEach
    void noConnectionLeftBorrowed() throws InterruptedException {
        for (PostgresVmStore store : stores) {
            assertThat(drained(store)).as("connections in use after the test").isZero();
        }
        manager.close(); // closes its store; stores of managers a test replaced are closed here
        stores.forEach(PostgresVmStore::close);
    }

    /**
     * The store's borrowed connections once the manager's background work is done: a crash or
     * an exit the driver reports is recorded on the manager's own threads and may still hold a
     * connection when the test's last assertion returns. A leaked connection stays borrowed, so
     * it still shows after the wait.
     */
    private static int drained(PostgresVmStore store) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        int active = store.activeConnections();
        while (active > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
            active = store.activeConnections();
        }
        return active;
    }
}
