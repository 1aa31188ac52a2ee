package io.horcrux.testkit;

import io.horcrux.spi.VmStore;

class InMemoryManagerLoadTest extends ManagerLoadContract {
    @Override
    protected VmStore newStore() {
        return InMemoryVmStore.create();
    }
}
