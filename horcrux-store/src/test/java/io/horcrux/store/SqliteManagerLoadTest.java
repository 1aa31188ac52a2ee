package io.horcrux.store;

import io.horcrux.testkit.ManagerLoadContract;
import io.horcrux.spi.VmStore;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

class SqliteManagerLoadTest extends ManagerLoadContract {
    @TempDir
    Path directory;

    @Override
    protected VmStore newStore() {
        return SqliteVmStore.open(directory.resolve("load.db"));
    }
}
