package io.horcrux.bench;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.InMemoryVmStore;
import java.nio.file.Path;

/** The stores a benchmark can run on; {@code @Param} values name them. */
public enum StoreKind {
    IN_MEMORY,
    SQLITE;

    VmStore open(Path directory) {
        return switch (this) {
            case IN_MEMORY -> InMemoryVmStore.create();
            case SQLITE -> SqliteStores.open(directory, false);
        };
    }
}
