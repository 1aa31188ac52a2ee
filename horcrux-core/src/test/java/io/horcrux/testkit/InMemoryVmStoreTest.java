package io.horcrux.testkit;

import io.horcrux.spi.VmStore;
import io.horcrux.spi.VmStoreContract;

class InMemoryVmStoreTest extends VmStoreContract {
    @Override
    protected VmStore newStore() {
        return InMemoryVmStore.create();
    }
}
