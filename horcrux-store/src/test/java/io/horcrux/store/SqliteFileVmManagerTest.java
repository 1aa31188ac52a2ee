package io.horcrux.store;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The manager's behaviour over the store on a database file (one store per file). */
class SqliteFileVmManagerTest extends SqliteVmManagerContract {
    @TempDir
    Path dir;

    @Override
    protected SqliteVmStore.Builder database(int n) {
        return SqliteVmStore.builder().file(dir.resolve("manager-" + n + ".db"));
    }
}
