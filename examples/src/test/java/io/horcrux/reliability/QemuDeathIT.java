package io.horcrux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.HorcruxException;
import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmStatus;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.qemu.QemuFaults;
import io.horcrux.store.SqliteVmStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * QEMU dying, through the whole stack: a {@link VmManager} on the SQLite store and real QEMU,
 * whose QEMU dies by SIGKILL, SIGTERM or a {@code quit} sent by another client over the
 * operator monitor, while idle, while paused, and in the middle of the manager's own start and
 * stop. Each time the stored status is corrected (CRASHED for a signal, STOPPED for a quit),
 * subscribers get one event for it, the cache agrees with the store, the call in flight
 * completes or fails with a {@link HorcruxException} naming the VM, and the VM starts again.
 * Every test has a watchdog ({@link Timeout}): a hang fails it.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class QemuDeathIT {
    private static final Logger log = LoggerFactory.getLogger(QemuDeathIT.class);
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final AtomicInteger FAULTS = new AtomicInteger();
    private static Path data;

    enum Death {
        SIGKILL, SIGTERM, QUIT;

        VmStatus after() {
            return this == QUIT ? VmStatus.STOPPED : VmStatus.CRASHED;
        }
    }

    private SqliteVmStore store;
    private QemuDriver driver;
    private VmManager vms;
    private final List<VmEvent> events = new CopyOnWriteArrayList<>();
    private final ExecutorService caller = Executors.newSingleThreadExecutor();

    @BeforeAll
    static void createData() throws Exception {
        data = ReliabilityDirectories.create("death");
    }

    @AfterAll
    static void noQemuLeft() throws Exception {
        int left = QemuProcesses.killAll(data);
        log.info("{} faults injected through the manager", FAULTS.get());
        ReliabilityDirectories.delete(data);
        assertThat(left).as("QEMU processes left by the tests").isZero();
    }

    @BeforeEach
    void open() {
        store = ManagerChild.store(data);
        driver = ManagerChild.driverBuilder(data).operatorMonitor(true).build();
        vms = VmManager.builder().store(store).driver(driver).stopVmsOnClose(true).build();
        vms.subscribe(events::add);
    }

    @AfterEach
    void close() throws Exception {
        caller.shutdownNow();
        vms.close();
        driver.close();
    }

    @ParameterizedTest
    @EnumSource(Death.class)
    void whileIdle(Death death) throws Exception {
        String id = "idle-" + death.name().toLowerCase();
        vms.create(ManagerChild.spec(id));
        vms.start(id);
        diesAndIsRecordedOnce(id, death, VmStatus.RUNNING);
    }

    @ParameterizedTest
    @EnumSource(Death.class)
    void whilePaused(Death death) throws Exception {
        String id = "paused-" + death.name().toLowerCase();
        vms.create(ManagerChild.spec(id));
        vms.start(id);
        vms.pause(id);
        diesAndIsRecordedOnce(id, death, VmStatus.PAUSED);
    }

    private void diesAndIsRecordedOnce(String id, Death death, VmStatus before) throws Exception {
        long pid = vms.get(id).runtimeInfo().orElseThrow().pid();
        int seen = eventsSettled(id);
        inflict(death, id, pid);
        await(id + " to become " + death.after(), () -> vms.get(id).status() == death.after());
        assertThat(QemuProcesses.isAlive(pid)).isFalse();
        assertCacheEqualsStore(id);
        assertThat(vms.get(id).runtimeInfo()).isEmpty();
        List<VmEvent> ofDeath = restartAndEventsBefore(id, seen, 0);
        assertThat(ofDeath).as("events of the death").singleElement().satisfies(e -> {
            assertThat(e.vmId()).isEqualTo(id);
            assertThat(e.previousStatus()).isEqualTo(before);
            assertThat(e.newStatus()).isEqualTo(death.after());
        });
        vms.stop(id, Duration.ZERO);
        vms.delete(id);
    }

    @ParameterizedTest
    @EnumSource(Death.class)
    void inTheMiddleOfStart(Death death) throws Exception {
        String id = "midstart-" + death.name().toLowerCase();
        vms.create(ManagerChild.spec(id));
        int seen = eventsSettled(id);
        Future<Vm> starting = caller.submit(() -> vms.start(id));
        Path vmDir = data.resolve("vms").resolve(id);
        if (death == Death.QUIT) {
            // QEMU serves its monitors before -daemonize lets the launcher exit: the quit lands
            // before, during or just after the driver's own connection.
            FAULTS.incrementAndGet();
            assertThat(QemuFaults.quitAsSoonAsItListens(driver, id, starting::isDone))
                    .as("the operator monitor accepted a quit").isTrue();
        } else {
            await("QEMU of " + id + " to appear", () -> !QemuProcesses.under(vmDir).isEmpty() || starting.isDone());
            QemuProcesses.under(vmDir).keySet().forEach(pid -> inflict(death, id, pid));
        }
        String outcome;
        try {
            Vm started = starting.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            outcome = "completed";
            assertThat(started.status()).isEqualTo(VmStatus.RUNNING);
            await(id + " to be noticed dead", () -> vms.get(id).status() == death.after());
        } catch (ExecutionException e) {
            outcome = "failed: " + e.getCause().getMessage();
            assertThat(e.getCause()).isInstanceOf(HorcruxException.class).hasMessageContaining(id);
            assertThat(vms.get(id).status()).isEqualTo(VmStatus.STOPPED);
        }
        log.info("{} during start: the start {}", death, outcome);
        assertCacheEqualsStore(id);
        assertThat(QemuProcesses.under(vmDir)).isEmpty();
        List<VmStatus> firstStart = restartAndEventsBefore(id, seen, 1).stream().map(VmEvent::newStatus).toList();
        assertThat(firstStart).as("events of the start that QEMU died in")
                .isIn(List.of(VmStatus.STARTING, VmStatus.STOPPED),
                        List.of(VmStatus.STARTING, VmStatus.RUNNING, death.after()));
        vms.stop(id, Duration.ZERO);
        vms.delete(id);
    }

    @ParameterizedTest
    @EnumSource(Death.class)
    void inTheMiddleOfStop(Death death) throws Exception {
        String id = "midstop-" + death.name().toLowerCase();
        vms.create(ManagerChild.spec(id));
        long pid = vms.start(id).runtimeInfo().orElseThrow().pid();
        int seen = eventsSettled(id);
        // The guest ignores the power button, so the stop waits out its grace: the fault lands then.
        Future<Vm> stopping = caller.submit(() -> vms.stop(id, QemuFaults.LONG_GRACE));
        await(id + " to be STOPPING", () -> vms.get(id).status() == VmStatus.STOPPING);
        inflict(death, id, pid);
        Vm stopped = stopping.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(stopped.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(QemuProcesses.isAlive(pid)).isFalse();
        assertCacheEqualsStore(id);
        List<VmStatus> ofStop = restartAndEventsBefore(id, seen, 2).stream().map(VmEvent::newStatus).toList();
        assertThat(ofStop).as("events of the stop that QEMU died in").containsExactly(VmStatus.STOPPING, VmStatus.STOPPED);
        vms.stop(id, Duration.ZERO);
        vms.delete(id);
    }

    /**
     * Starts the VM again and returns the events after the first {@code seen} that came before
     * that start's STARTING. Events arrive in order, so once it is in, every event of what
     * happened before is too, and one too many would show. {@code ownEvents}: how many of those
     * the call in flight made itself (STARTING of a start, STOPPING of a stop), which may include
     * an earlier STARTING.
     */
    private List<VmEvent> restartAndEventsBefore(String id, int seen, int ownEvents) throws InterruptedException {
        vms.start(id);
        await("the restart's event", () -> events.stream().skip(seen + ownEvents)
                .anyMatch(e -> e.vmId().equals(id) && e.newStatus() == VmStatus.STARTING));
        List<VmEvent> since = eventsSince(seen);
        int restart = since.size() - 1;
        while (!(since.get(restart).vmId().equals(id) && since.get(restart).newStatus() == VmStatus.STARTING)) {
            restart--;
        }
        return since.subList(0, restart);
    }

    /** The events after the first {@code seen}, copied: more may arrive while a test reads them. */
    private List<VmEvent> eventsSince(int seen) {
        List<VmEvent> all = List.copyOf(events);
        return all.subList(seen, all.size());
    }

    /** Waits until the event of the VM's last change has arrived; returns how many events there are. */
    private int eventsSettled(String id) throws InterruptedException {
        Vm now = vms.get(id);
        // Version 1 has an event too: the create's.
        await("the event of version " + now.version() + " of " + id, () -> events.stream()
                .anyMatch(e -> e.vmId().equals(id) && e.version() == now.version()));
        return events.size();
    }

    private void inflict(Death death, String id, long pid) {
        FAULTS.incrementAndGet();
        switch (death) {
            case SIGKILL -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            case SIGTERM -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
            case QUIT -> QemuFaults.quitOverOperatorMonitor(driver, id);
        }
    }

    private void assertCacheEqualsStore(String id) {
        Vm cached = vms.get(id);
        Vm stored = store.find(id).orElseThrow();
        assertThat(cached.status()).as("status of %s in the cache and the store", id).isEqualTo(stored.status());
        assertThat(cached.version()).as("version of %s in the cache and the store", id).isEqualTo(stored.version());
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + WAIT.toSeconds() + " s waiting for " + what);
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }
}
