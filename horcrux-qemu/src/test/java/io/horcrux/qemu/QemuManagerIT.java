package io.horcrux.qemu;

import static io.horcrux.qemu.QemuItSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.IllegalVmStateException;
import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.InMemoryVmStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A VmManager over the in-memory store and real QEMU, end to end. */
class QemuManagerIT {
    private static Path root;

    @BeforeAll
    static void createRoot() throws Exception {
        root = QemuItSupport.newStateDirectory("manager");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    private static VmManager manager(InMemoryVmStore store, QemuDriver driver) {
        return VmManager.builder().store(store).driver(driver).build();
    }

    @Test
    void openingRemovesWhatACrashLeftOfVmsTheInventoryDoesNotKnow() throws Exception {
        Path state = root.resolve("orphans");
        // A create cut off after its disks were made (or a delete after its row was removed): no row.
        try (QemuDriver before = QemuItSupport.driver(state)) {
            before.provision(QemuItSupport.spec("orphan"));
            before.provision(QemuItSupport.spec("known"));
        }
        Files.createDirectory(state.resolve("Not-An-Id")); // not a VM directory: left alone
        InMemoryVmStore store = InMemoryVmStore.create();
        store.insert(new Vm(QemuItSupport.spec("known"), VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null));
        QemuDriver driver = QemuItSupport.driver(state);
        try (VmManager vms = manager(store, driver)) {
            assertThat(state.resolve("orphan")).doesNotExist();
            assertThat(driver.provisionedIds()).containsExactly("known");
            assertThat(state.resolve("known/root.qcow2")).exists();
            assertThat(state.resolve("Not-An-Id")).isDirectory();
            assertThat(vms.start("known").status()).isEqualTo(VmStatus.RUNNING);
            vms.stop("known", Duration.ZERO);
            vms.delete("known");
        }
        assertThat(state.resolve("known")).doesNotExist();
    }

    @Test
    void createStartPauseResumeResetStopDelete() throws Exception {
        Path state = root.resolve("e2e");
        QemuDriver driver = QemuItSupport.driverBuilder(state).defaultStopGrace(Duration.ofMillis(300)).build();
        List<VmEvent> events = new CopyOnWriteArrayList<>();
        try (VmManager vms = manager(InMemoryVmStore.create(), driver)) {
            vms.subscribe(events::add);
            Vm created = vms.create(QemuItSupport.spec("e2e"));
            assertThat(created.status()).isEqualTo(VmStatus.STOPPED);
            assertThat(state.resolve("e2e/root.qcow2")).exists();
            assertThat(driver.qemuImg().info(state.resolve("e2e/root.qcow2")).virtualSize()).isEqualTo(16L << 20);

            Vm running = vms.start("e2e");
            assertThat(running.status()).isEqualTo(VmStatus.RUNNING);
            assertThat(running.runtime().pid()).isPositive();
            assertThat(driver.status("e2e")).isEqualTo(VmStatus.RUNNING);
            assertThatThrownBy(() -> vms.delete("e2e")).isInstanceOf(IllegalVmStateException.class);

            assertThat(vms.pause("e2e").status()).isEqualTo(VmStatus.PAUSED);
            assertThat(driver.status("e2e")).isEqualTo(VmStatus.PAUSED);
            assertThat(vms.resume("e2e").status()).isEqualTo(VmStatus.RUNNING);
            assertThat(vms.reset("e2e").status()).isEqualTo(VmStatus.RUNNING);

            Vm stopped = vms.stop("e2e"); // the guest ignores ACPI: the default grace runs out, then quit
            assertThat(stopped.status()).isEqualTo(VmStatus.STOPPED);
            assertThat(QemuItSupport.isGone(running.runtime().pid())).isTrue();

            vms.delete("e2e");
            assertThat(vms.find("e2e")).isEmpty();
            assertThat(state.resolve("e2e")).doesNotExist();
        }
        assertThat(events).extracting(VmEvent::kind).first().isEqualTo(VmEvent.Kind.CREATED);
        assertThat(events).extracting(VmEvent::kind).last().isEqualTo(VmEvent.Kind.DELETED);
        assertThat(events).filteredOn(VmEvent::isStatusChange).extracting(VmEvent::newStatus).containsExactly(
                VmStatus.STARTING, VmStatus.RUNNING, VmStatus.PAUSED, VmStatus.RUNNING, VmStatus.STOPPING,
                VmStatus.STOPPED);
    }

    @Test
    void aQemuKilledBehindTheBackBecomesCrashedInTheInventoryWithAnEvent() throws Exception {
        Path state = root.resolve("crash");
        QemuDriver driver = QemuItSupport.driver(state);
        List<VmEvent> events = new CopyOnWriteArrayList<>();
        try (VmManager vms = manager(InMemoryVmStore.create(), driver)) {
            vms.create(QemuItSupport.spec("victim"));
            vms.start("victim");
            vms.subscribe(events::add);
            QemuItSupport.kill(driver, "victim", true);
            await("the crash to be recorded", Duration.ofSeconds(30), () -> vms.get("victim").status() == VmStatus.CRASHED);
            assertThat(vms.get("victim").statusReason()).contains("died unexpectedly");
            assertThat(vms.get("victim").runtimeInfo()).isEmpty();
            await("the event", Duration.ofSeconds(10), () -> !events.isEmpty());
            assertThat(events).singleElement().satisfies(e -> {
                assertThat(e.previousStatus()).isEqualTo(VmStatus.RUNNING);
                assertThat(e.newStatus()).isEqualTo(VmStatus.CRASHED);
            });
            assertThat(vms.start("victim").status()).isEqualTo(VmStatus.RUNNING);
            vms.stop("victim", Duration.ZERO);
            vms.delete("victim");
        }
    }

    @Test
    void aNewManagerReattachesToRunningVmsAndMarksVanishedOnesStopped() throws Exception {
        Path state = root.resolve("reattach");
        InMemoryVmStore first = InMemoryVmStore.create();
        QemuDriver firstDriver = QemuItSupport.driver(state);
        List<Vm> inventory;
        long survivorPid;
        try (VmManager vms = manager(first, firstDriver)) {
            vms.create(QemuItSupport.spec("survivor"));
            vms.create(QemuItSupport.spec("vanished"));
            survivorPid = vms.start("survivor").runtime().pid();
            vms.start("vanished");
            vms.pause("survivor");
            try (Stream<Vm> all = vms.stream(VmQuery.all())) {
                inventory = all.toList();
            }
        }
        assertThat(QemuItSupport.isGone(survivorPid)).as("closing the manager leaves VMs running").isFalse();
        // While no manager watches, one QEMU dies.
        QemuDriver probe = QemuItSupport.driver(state);
        QemuItSupport.kill(probe, "vanished", true);
        probe.close();
        await("vanished to exit", Duration.ofSeconds(10),
                () -> QemuItSupport.qemuProcessesUnder(state.resolve("vanished")).isEmpty());

        InMemoryVmStore second = InMemoryVmStore.create();
        second.insertAll(inventory); // the same durable inventory, read by a new application
        QemuDriver secondDriver = QemuItSupport.driver(state);
        try (VmManager vms = VmManager.builder().store(second).driver(secondDriver).stopVmsOnClose(true).build()) {
            assertThat(vms.get("survivor").status()).isEqualTo(VmStatus.PAUSED);
            assertThat(vms.get("vanished").status()).isEqualTo(VmStatus.STOPPED);
            assertThat(vms.get("vanished").statusReason()).contains("gone");
            assertThat(vms.resume("survivor").status()).isEqualTo(VmStatus.RUNNING);
            assertThat(secondDriver.status("survivor")).isEqualTo(VmStatus.RUNNING);
        }
        assertThat(QemuItSupport.isGone(survivorPid)).as("stopVmsOnClose stops them").isTrue();
    }
}
