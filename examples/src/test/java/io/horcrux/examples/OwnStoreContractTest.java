package io.horcrux.examples;

import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.spi.VmStore;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.VmStoreContract;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What a project with its own {@link VmStore} writes to prove it, from outside Horcrux's
 * packages and with nothing but {@code horcrux-testkit} in test scope: extend
 * {@link VmStoreContract} and hand it fresh stores. The store here is a stand-in for the
 * project's own, a thin layer over the in-memory store.
 */
class OwnStoreContractTest extends VmStoreContract {
    @Override
    protected VmStore newStore() {
        return new OwnStore(InMemoryVmStore.create());
    }

    /** The project's store, here passing every call to the store it wraps. */
    /** This example store keeps no snapshots: the contract checks it refuses them clearly. */
    @Override
    protected boolean keepsSnapshots() {
        return false;
    }

    /** Nor linked clones: the contract checks it refuses them clearly. */
    @Override
    protected boolean keepsLinkedClones() {
        return false;
    }

    static final class OwnStore implements VmStore {
        private final VmStore inventory;

        OwnStore(VmStore inventory) {
            this.inventory = inventory;
        }

        @Override
        public void insert(Vm vm) {
            inventory.insert(vm);
        }

        @Override
        public void insertAll(List<Vm> vms) {
            inventory.insertAll(vms);
        }

        @Override
        public Optional<Vm> find(String id) {
            return inventory.find(id);
        }

        @Override
        public void update(Vm vm, long expectedVersion) {
            inventory.update(vm, expectedVersion);
        }

        @Override
        public void delete(String id, long expectedVersion) {
            inventory.delete(id, expectedVersion);
        }

        @Override
        public Page<Vm> list(VmQuery query) {
            return inventory.list(query);
        }

        @Override
        public Stream<Vm> stream(VmQuery query) {
            return inventory.stream(query);
        }

        @Override
        public long count(VmQuery query) {
            return inventory.count(query);
        }

        @Override
        public void close() {
            inventory.close();
        }
    }
}
