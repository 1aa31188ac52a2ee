package io.horcrux.bench;

import io.horcrux.spi.VmStore;
import io.horcrux.store.SqliteVmStore;
import java.nio.file.Path;

/** Opens the SQLite store the way the benchmarks need it: a file in the benchmark's directory. */
final class SqliteStores {
    private SqliteStores() {
    }

    static VmStore open(Path directory, boolean fullSync) {
        return SqliteVmStore.builder()
                .file(directory.resolve("inventory.db"))
                .synchronous(fullSync ? SqliteVmStore.Synchronous.FULL : SqliteVmStore.Synchronous.NORMAL)
                .build();
    }
}
