package io.horcrux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.testkit.ManagerLoadContract;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue item 3 over the real parts: the manager load test (8 threads, 30 s, get, list, stream,
 * create, start, pause, resume, stop and delete, a model of the acknowledged results, the cache
 * equal to the store, a deadlock watchdog, no thread left) on the SQLite store and real QEMU,
 * over {@value #VMS} VMs at first, at most {@value #MAX_VMS} ever created, deletes stopping at
 * {@value #VMS} left. At the end the QEMU processes
 * under the data directory are exactly those of the active VMs.
 */
class QemuManagerLoadIT extends ManagerLoadContract {
    private static final Logger log = LoggerFactory.getLogger(QemuManagerLoadIT.class);
    static final int VMS = 10;
    static final int MAX_VMS = 14;
    private Path data;

    @BeforeEach
    void createData() throws IOException {
        data = ReliabilityDirectories.create("load");
    }

    @AfterEach
    void removeData() throws IOException {
        // Closing a manager leaves its VMs running, by design; these are the test's to end.
        QemuProcesses.killAll(data);
        ReliabilityDirectories.delete(data);
    }

    @Override
    protected VmStore newStore() {
        return ManagerChild.store(data);
    }

    @Override
    protected VmDriver newDriver() {
        return ManagerChild.driver(data);
    }

    @Override
    protected int initialVms() {
        return VMS;
    }

    @Override
    protected int maxVms() {
        return MAX_VMS;
    }

    /** Real starts take a good part of a second each on TCG; reads between them are quick. */
    @Override
    protected long minOperations() {
        return 300;
    }

    @Override
    protected int minVms() {
        return VMS;
    }

    @Override
    protected VmSpec spec(String id) {
        return ManagerChild.spec(id).toBuilder().label("load", "yes").build();
    }

    @Override
    protected void assertDriverAgrees(VmDriver driver, Collection<Vm> inventory) {
        Map<Long, String> processes = QemuProcesses.under(data);
        Set<String> active = inventory.stream().filter(vm -> vm.status().isActive()).map(Vm::id)
                .collect(Collectors.toSet());
        assertThat(processes.values()).as("VMs with a QEMU process").containsExactlyInAnyOrderElementsOf(active);
        inventory.stream().filter(vm -> vm.status().isActive()).forEach(vm ->
                assertThat(processes).as("QEMU of %s", vm.id()).containsKey(vm.runtimeInfo().orElseThrow().pid()));
    }

    @Override
    protected void report(int threads, long seconds, long operations, int vms) {
        log.info("load over real QEMU: {} threads, {} s, {} operations, {} VMs at the end, nothing lost",
                threads, seconds, operations, vms);
    }
}
