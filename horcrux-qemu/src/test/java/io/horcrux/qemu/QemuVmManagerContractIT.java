package io.horcrux.qemu;

import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.VmManagerContract;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/**
 * The manager contract over real QEMU processes (TCG, microvm) and the in-memory store: the
 * facade behaves over the QEMU driver as over the simulated one. Each driver gets its own state
 * directory. The guests have no operating system, so a graceful stop always waits out its
 * grace: a short default grace keeps the stops that use it (stopVmsOnClose) quick. Closing a
 * manager leaves its QEMUs running, by design, so each test's are stopped after it.
 */
class QemuVmManagerContractIT extends VmManagerContract {
    private static final String DIRECTORY = "mc";

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(QemuItSupport.ROOT.resolve(DIRECTORY));
    }

    /** Runs before the contract closes the manager. */
    @AfterEach
    void stopWhatTheTestLeftRunning() {
        List<Vm> active;
        try {
            // Only this host's: a test may store another host's VM as running, which this manager never runs.
            active = manager.withStream(VmQuery.all(), vms -> vms
                    .filter(vm -> vm.status().isActive() && vm.owner().equals(manager.host())).toList());
        } catch (IllegalStateException closed) {
            return; // the test closed the manager itself, with nothing running
        }
        active.forEach(vm -> manager.stop(vm.id(), Duration.ZERO));
    }

    @Override
    protected VmStore newStore() {
        return InMemoryVmStore.create();
    }

    @Override
    protected VmDriver newDriver() {
        try {
            return QemuItSupport.driverBuilder(QemuItSupport.newStateDirectory(DIRECTORY))
                    .defaultStopGrace(Duration.ofMillis(200)).build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
