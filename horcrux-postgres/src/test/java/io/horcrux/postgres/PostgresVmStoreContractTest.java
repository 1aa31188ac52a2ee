package io.horcrux.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.VmStoreContract;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The store contract on a real PostgreSQL, with the store's own pool: a fresh schema per test. */
class PostgresVmStoreContractTest extends VmStoreContract {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    private String schema;

    @Override
    protected VmStore newStore() {
        schema = db.newSchema("contract");
        return open();
    }

    private PostgresVmStore open() {
        return PostgresVmStore.builder().jdbcUrl(db.jdbcUrl()).user(db.user()).password(db.password()).schema(schema)
                .leakDetectionThreshold(Duration.ofSeconds(2)).build();
    }

    @Override
    protected Optional<Supplier<VmStore>> secondStoreOnTheSameInventory() {
        return Optional.of(this::open);
    }

    @AfterEach
    void noConnectionLeftBorrowed() {
        assertThat(((PostgresVmStore) store).activeConnections()).as("pool connections in use").isZero();
        assertThat(((PostgresVmStore) store).openCursors()).as("open cursors").isEmpty();
    }
}
