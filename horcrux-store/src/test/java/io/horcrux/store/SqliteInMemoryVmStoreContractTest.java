package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.VmStoreContract;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;

/** The store contract in in-memory mode. */
class SqliteInMemoryVmStoreContractTest extends VmStoreContract {
    @Override
    protected VmStore newStore() {
        return SqliteVmStore.builder().inMemory("contract-" + UUID.randomUUID())
                .leakDetectionThreshold(Duration.ofSeconds(2)).build();
    }

    @AfterEach
    void noConnectionLeftBorrowed() {
        assertThat(((SqliteVmStore) store).activeReaderConnections()).as("reader connections in use").isZero();
    }
}
