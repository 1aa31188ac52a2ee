package io.horcrux.testkit;

import io.horcrux.spi.VmStore;

class InMemoryVmStoreTest extends VmStoreContract {
    @Override
    protected VmStore newStore() {
        return InMemoryVmStore.create();
    }
}
