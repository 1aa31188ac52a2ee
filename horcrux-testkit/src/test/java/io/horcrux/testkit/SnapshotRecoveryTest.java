package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.DriverException;
import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Snapshot;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.SnapshotIntent;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a manager does, when it opens, with each snapshot operation a crash left in the journal,
 * over the in-memory store and the simulated driver: the store and the driver outlive the first
 * manager (as a database file and QEMU processes outlive a killed JVM), the test writes what a
 * manager killed at a given step leaves behind, and a second manager settles it. The same steps
 * on SQLite and real QEMU, with real kills, are {@code SnapshotCrashIT} in {@code examples}.
 */
class SnapshotRecoveryTest {
    private final InMemoryVmStore store = InMemoryVmStore.create();
    private final SimulatedDriver driver = SimulatedDriver.create();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private VmManager manager;

    @AfterEach
    void close() {
        if (manager != null) {
            manager.close();
        }
        store.close();
        driver.close();
    }

    /** A view of {@code target} whose {@code close()} does nothing: it outlives the manager. */
    @SuppressWarnings("unchecked")
    private static <T> T surviving(Class<T> type, T target) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, method, args) -> {
            if (method.getName().equals("close") && method.getParameterCount() == 0) {
                return null;
            }
            try {
                return method.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    private VmManager open() {
        if (manager != null) {
            manager.close();
        }
        manager = VmManager.builder().store(surviving(VmStore.class, store)).driver(surviving(VmDriver.class, driver))
                .meterRegistry(registry).build();
        return manager;
    }

    private double recovered(String outcome) {
        Timer timer = registry.find("horcrux.vm.operation").tags("operation", "snapshotRecovery", "outcome", outcome).timer();
        return timer == null ? 0 : timer.count();
    }

    private static List<String> tree(VmManager vms, String id) {
        return vms.snapshots(id).stream().map(s -> s.name() + (s.current() ? "*" : "")).toList();
    }

    private Set<String> held(String id) {
        return driver.snapshotNames(store.find(id).orElseThrow()).get("root");
    }

    private static Snapshot next(String name, String parent, boolean withMemory, VmStatus takenWhile) {
        return new Snapshot(name, java.util.Optional.ofNullable(parent), Instant.now().plusSeconds(60), withMemory,
                true, takenWhile);
    }

    /** A stopped VM with snapshot {@code a} of disk content "A", its disk now "B". */
    private Vm prepared(String id) {
        VmManager vms = open();
        vms.create(VmSpec.builder().id(id).memoryMiB(64).disk(DiskSpec.qcow2("root", 1L << 20)).build());
        driver.writeDisk(id, "root", "A");
        vms.snapshot(id, "a");
        driver.writeDisk(id, "root", "B");
        return vms.get(id);
    }

    @Test
    void aSnapshotEveryDiskHoldsIsRecordedAndOneNoDiskHoldsIsForgotten() {
        Vm vm = prepared("take");
        manager.close();
        manager = null;
        // Killed after the driver took "b", before the tree recorded it.
        store.recordSnapshotIntent(new SnapshotIntent("take", SnapshotIntent.Operation.TAKE,
                next("b", "a", false, VmStatus.STOPPED), Instant.now()));
        driver.snapshot(vm, "b", false);
        VmManager vms = open();
        assertThat(tree(vms, "take")).containsExactly("a", "b*");
        assertThat(vms.snapshots("take").get(1).parent()).contains("a");
        assertThat(held("take")).containsExactlyInAnyOrder("a", "b");
        assertThat(recovered("rolled-forward")).isEqualTo(1);

        // Killed after the journal entry, before the driver took "c".
        store.recordSnapshotIntent(new SnapshotIntent("take", SnapshotIntent.Operation.TAKE,
                next("c", "b", false, VmStatus.STOPPED), Instant.now()));
        vms = open();
        assertThat(tree(vms, "take")).containsExactly("a", "b*");
        assertThat(held("take")).containsExactlyInAnyOrder("a", "b");
        assertThat(recovered("rolled-back")).isEqualTo(1);
        assertThat(store.snapshotIntents()).isEmpty();
        assertThat(vms.snapshot("take", "c").parent()).as("the name is free").contains("b");
    }

    @Test
    void aRevertIsFinishedOnTheDisksAndADiskOnlyRevertOfARunningVmIsDropped() {
        prepared("rev");
        manager.start("rev");
        manager.snapshot("rev", "live");
        manager.stop("rev");
        manager.close();
        manager = null;
        // Killed after the journal entry of a revert to "a": the disks are finished, the VM stays stopped.
        store.recordSnapshotIntent(new SnapshotIntent("rev", SnapshotIntent.Operation.REVERT,
                store.snapshots("rev").get(0), Instant.now()));
        VmManager vms = open();
        assertThat(tree(vms, "rev")).containsExactly("a*", "live");
        assertThat(driver.diskContent("rev", "root")).isEqualTo("A");
        assertThat(vms.get("rev").status()).isEqualTo(VmStatus.STOPPED);

        // A revert with memory whose process is gone: the disks are reverted, the VM stays stopped.
        driver.writeDisk("rev", "root", "C");
        Snapshot live = vms.snapshots("rev").get(1);
        vms.close();
        manager = null;
        store.recordSnapshotIntent(new SnapshotIntent("rev", SnapshotIntent.Operation.REVERT, live, Instant.now()));
        vms = open();
        assertThat(tree(vms, "rev")).containsExactly("a", "live*");
        assertThat(driver.diskContent("rev", "root")).isEqualTo("B");
        assertThat(vms.get("rev").status()).isEqualTo(VmStatus.STOPPED);

        // A disk-only revert of a VM that runs never began.
        vms.start("rev");
        driver.writeDisk("rev", "root", "D");
        vms.close();
        manager = null;
        store.recordSnapshotIntent(new SnapshotIntent("rev", SnapshotIntent.Operation.REVERT,
                store.snapshots("rev").get(0), Instant.now()));
        vms = open();
        assertThat(tree(vms, "rev")).containsExactly("a", "live*");
        assertThat(driver.diskContent("rev", "root")).isEqualTo("D");
        assertThat(vms.get("rev").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(recovered("rolled-forward")).isEqualTo(2);
        assertThat(recovered("rolled-back")).isEqualTo(1);
    }

    @Test
    void aDeleteIsFinishedAndSnapshotsTheTreeDoesNotKnowAreRemoved() {
        Vm vm = prepared("del");
        manager.snapshot("del", "b");
        manager.close();
        manager = null;
        // Killed after the driver deleted "a", before the tree did; a stray undo tag left too.
        store.recordSnapshotIntent(new SnapshotIntent("del", SnapshotIntent.Operation.DELETE,
                store.snapshots("del").get(0), Instant.now()));
        driver.deleteSnapshot(vm, "a");
        driver.snapshot(vm, "horcrux-undo-x", false);
        VmManager vms = open();
        assertThat(tree(vms, "del")).containsExactly("b*");
        assertThat(vms.snapshots("del").get(0).parent()).isEmpty();
        assertThat(held("del")).containsExactly("b");
        assertThat(recovered("rolled-forward")).isEqualTo(1);
    }

    @Test
    void anEntryThatCannotBeSettledStaysForTheNextOpenAndTheManagerOpensAnyway() {
        prepared("stuck");
        manager.close();
        manager = null;
        store.recordSnapshotIntent(new SnapshotIntent("stuck", SnapshotIntent.Operation.DELETE,
                store.snapshots("stuck").get(0), Instant.now()));
        driver.failNext(SimulatedDriver.Operation.DELETE_SNAPSHOT, new DriverException("disk busy"));
        VmManager vms = open();
        assertThat(vms.get("stuck").status()).isEqualTo(VmStatus.STOPPED);
        assertThat(store.snapshotIntents()).extracting(SnapshotIntent::vmId).containsExactly("stuck");
        assertThat(recovered("DriverException")).isEqualTo(1);

        vms = open();
        assertThat(store.snapshotIntents()).isEmpty();
        assertThat(tree(vms, "stuck")).isEmpty();
        assertThat(held("stuck")).isEmpty();
    }
}
