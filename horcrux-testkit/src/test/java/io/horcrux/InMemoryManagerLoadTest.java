package io.horcrux;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.ManagerLoadContract;
import io.horcrux.testkit.InMemoryVmStore;

class InMemoryManagerLoadTest extends ManagerLoadContract {
    @Override
    protected VmStore newStore() {
        return InMemoryVmStore.create();
    }
}
