package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.VmManager;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmStore;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The manager contract over the in-memory store, and what is particular to the facade. Here and
 * not in horcrux-core, whose tests cannot depend on this module: it depends on core.
 */
class InMemoryVmManagerTest extends SimulatedVmManagerContract {
    @Override
    protected VmStore newStore() {
        return InMemoryVmStore.create();
    }

    @Override
    protected SimulatedDriver newDriver() {
        return SimulatedDriver.create();
    }

    @Test
    void aNewManagerCorrectsVmsWhoseProcessesAreGoneAndKeepsThoseStillRunning() {
        InMemoryVmStore shared = InMemoryVmStore.create();
        SimulatedDriver host = SimulatedDriver.create();
        VmManager first = VmManager.builder().store(new Unclosable(shared)).driver(new Unclosable.Driver(host)).build();
        first.createAll(List.of(spec("kept"), spec("gone"), spec("paused"), spec("off")));
        first.start("kept");
        first.start("gone");
        first.start("paused");
        first.pause("paused");
        first.close();
        host.crash("gone", "host process died");

        try (VmManager second = VmManager.builder().store(shared).driver(host).build()) {
            assertThat(second.get("kept").status()).isEqualTo(VmStatus.RUNNING);
            assertThat(second.get("paused").status()).isEqualTo(VmStatus.PAUSED);
            assertThat(second.get("off").status()).isEqualTo(VmStatus.STOPPED);
            Vm gone = second.get("gone");
            assertThat(gone.status()).isEqualTo(VmStatus.STOPPED);
            assertThat(gone.statusReason()).contains("gone");
            assertThat(gone.runtimeInfo()).isEmpty();
        }
    }

    @Test
    void aFreshDriverFindsNothingRunningSoEveryActiveVmIsStopped() {
        InMemoryVmStore shared = InMemoryVmStore.create();
        VmManager first = VmManager.builder().store(new Unclosable(shared)).driver(SimulatedDriver.create()).build();
        first.createAll(List.of(spec("a"), spec("b")));
        first.start("a");
        first.close();

        try (VmManager second = VmManager.builder().store(shared).driver(SimulatedDriver.create()).build()) {
            assertThat(second.count(VmQuery.all().withStatus(VmStatus.STOPPED))).isEqualTo(2);
        }
    }

    @Test
    void lockEntriesDoNotOutliveTheirOperations() {
        manager.createAll(List.of(spec("a"), spec("b")));
        manager.start("a");
        manager.stop("a", java.time.Duration.ZERO);
        manager.delete("b");
        assertThat((Object) manager).extracting("locks").extracting("entries")
                .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.MAP).isEmpty();
    }

    @Test
    void builderRefusesMissingPartsRepeatedSettingsAndASecondBuild() {
        assertThatThrownBy(() -> VmManager.builder().build()).isInstanceOf(IllegalStateException.class)
                .hasMessage("a VmManager needs a store and a driver");
        assertThatThrownBy(() -> VmManager.builder().store(InMemoryVmStore.create()).build())
                .hasMessage("a VmManager needs a driver");
        assertThatThrownBy(() -> VmManager.builder().cacheMaximumSize(1).cacheMaximumSize(2))
                .isInstanceOf(IllegalStateException.class).hasMessage("cacheMaximumSize was already set");
        assertThatThrownBy(() -> VmManager.builder().cacheMaximumSize(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> VmManager.builder().batchParallelism(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> VmManager.builder().maxMemoryMiB(1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxMemoryMiB");
        assertThatThrownBy(() -> VmManager.builder().cacheExpireAfterAccess(java.time.Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        VmManager.Builder builder = VmManager.builder().store(InMemoryVmStore.create()).driver(SimulatedDriver.create());
        builder.build().close();
        assertThatThrownBy(builder::build).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void callerOwnedBatchExecutorIsUsedAndNotShutDown() {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            VmManager m = VmManager.builder().store(InMemoryVmStore.create()).driver(SimulatedDriver.create())
                    .batchExecutor(pool).build();
            m.createAll(List.of(spec("a"), spec("b")));
            assertThat(m.startAll(List.of("a", "b")).allSucceeded()).isTrue();
            m.close();
            assertThat(pool.isShutdown()).isFalse();
        } finally {
            pool.shutdownNow();
        }
    }

    /** Lets two managers share one in-memory store in turn, as two runs of an application share a file. */
    private record Unclosable(VmStore delegate) implements VmStore {
        @Override public void insert(Vm vm) { delegate.insert(vm); }
        @Override public void insertAll(List<Vm> vms) { delegate.insertAll(vms); }
        @Override public Optional<Vm> find(String id) { return delegate.find(id); }
        @Override public void update(Vm vm, long expectedVersion) { delegate.update(vm, expectedVersion); }
        @Override public void delete(String id, long expectedVersion) { delegate.delete(id, expectedVersion); }
        @Override public Page<Vm> list(VmQuery query) { return delegate.list(query); }
        @Override public Stream<Vm> stream(VmQuery query) { return delegate.stream(query); }
        @Override public void close() { }

        private record Driver(SimulatedDriver delegate) implements io.horcrux.spi.VmDriver {
            @Override public String name() { return delegate.name(); }
            @Override public void setObserver(io.horcrux.spi.DriverObserver o) { delegate.setObserver(o); }
            @Override public void provision(io.horcrux.model.VmSpec s) { delegate.provision(s); }
            @Override public void deprovision(io.horcrux.model.VmSpec s) { delegate.deprovision(s); }
            @Override public io.horcrux.model.VmRuntime start(io.horcrux.model.VmSpec s) { return delegate.start(s); }
            @Override public io.horcrux.spi.StopOutcome stop(String id, java.time.Duration g) { return delegate.stop(id, g); }
            @Override public void pause(String id) { delegate.pause(id); }
            @Override public void resume(String id) { delegate.resume(id); }
            @Override public void reset(String id) { delegate.reset(id); }
            @Override public VmStatus status(String id) { return delegate.status(id); }
            @Override public VmStatus attach(Vm vm) { return delegate.attach(vm); }
            @Override public void close() { }
        }
    }
}
