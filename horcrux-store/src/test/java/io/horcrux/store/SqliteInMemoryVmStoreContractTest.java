package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.VmStoreContract;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;

/** The store contract in in-memory mode. */
class SqliteInMemoryVmStoreContractTest extends VmStoreContract {
    private String name;

    @Override
    protected VmStore newStore() {
        name = "contract-" + UUID.randomUUID();
        return SqliteVmStore.builder().inMemory(name).leakDetectionThreshold(Duration.ofSeconds(2)).build();
    }

    @Override
    protected Optional<Supplier<VmStore>> secondStoreOnTheSameInventory() {
        return Optional.of(() -> SqliteVmStore.builder().inMemory(name).build());
    }

    /** An in-memory database ends with its last connection: nothing to reopen. */
    @Override
    protected Optional<Supplier<VmStore>> reopenedStore() {
        return Optional.empty();
    }

    @AfterEach
    void noConnectionLeftBorrowed() {
        assertThat(((SqliteVmStore) store).activeReaderConnections()).as("reader connections in use").isZero();
    }
}
