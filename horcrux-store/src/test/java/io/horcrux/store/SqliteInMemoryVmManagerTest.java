package io.horcrux.store;

import java.util.UUID;

/** The manager's behaviour over the store in in-memory mode. */
class SqliteInMemoryVmManagerTest extends SqliteVmManagerContract {
    @Override
    protected SqliteVmStore.Builder database(int n) {
        return SqliteVmStore.builder().inMemory("manager-" + UUID.randomUUID());
    }
}
