package io.horcrux.bench;

import io.horcrux.spi.VmStore;
import java.nio.file.Path;

/** Opens the SQLite store the way the benchmarks need it. */
final class SqliteStores {
    private SqliteStores() {
    }

    static VmStore open(Path directory, boolean fullSync) {
        throw new UnsupportedOperationException("the SQLite store is not part of this build yet");
    }
}
