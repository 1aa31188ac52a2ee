package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.VmStoreContract;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on a database file. */
class SqliteFileVmStoreContractTest extends VmStoreContract {
    @TempDir
    Path dir;

    @Override
    protected VmStore newStore() {
        return SqliteVmStore.builder().file(dir.resolve("contract.db"))
                .leakDetectionThreshold(Duration.ofSeconds(2)).build();
    }

    @Override
    protected Optional<Supplier<VmStore>> secondStoreOnTheSameInventory() {
        return Optional.of(() -> SqliteVmStore.open(dir.resolve("contract.db")));
    }

    @AfterEach
    void noConnectionLeftBorrowed() {
        assertThat(((SqliteVmStore) store).activeReaderConnections()).as("reader connections in use").isZero();
    }
}
