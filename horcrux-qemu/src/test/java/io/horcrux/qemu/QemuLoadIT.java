package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.IllegalVmStateException;
import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.InMemoryVmStore;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Threads mixing start, pause, resume, reset, stop and reads over real QEMU VMs through a
 * manager: no deadlock (a watchdog dumps the threads and fails), no unexpected error, and at the
 * end the inventory agrees with the processes that exist. Runs for
 * {@code horcrux.qemu.load.seconds} (default 20) with {@code horcrux.qemu.load.threads}
 * (default 8) threads over {@code horcrux.qemu.load.vms} (default 10) VMs.
 */
class QemuLoadIT {
    private static final long SECONDS = Long.getLong("horcrux.qemu.load.seconds", 20);
    private static final int THREADS = Integer.getInteger("horcrux.qemu.load.threads", 8);
    private static final int VMS = Integer.getInteger("horcrux.qemu.load.vms", 10);
    private static Path state;

    @BeforeAll
    static void createState() throws Exception {
        state = QemuItSupport.newStateDirectory("load");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(state);
    }

    @Test
    void mixedLifecycleOperationsOnRealVmsNeverDeadlockAndKeepTheInventoryTrue() throws Exception {
        QemuDriver driver = QemuItSupport.driverBuilder(state).defaultStopGrace(Duration.ofMillis(100)).build();
        Map<String, Throwable> unexpected = new ConcurrentHashMap<>();
        AtomicLong operations = new AtomicLong();
        try (VmManager vms = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).build()) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < VMS; i++) {
                ids.add(vms.create(QemuItSupport.spec("load-" + i)).id());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                workers.add(pool.submit(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    while (System.nanoTime() < deadline) {
                        String id = ids.get(random.nextInt(ids.size()));
                        int op = random.nextInt(100);
                        try {
                            if (op < 20) {
                                vms.find(id);
                            } else if (op < 25) {
                                vms.list(VmQuery.all().limit(5));
                            } else if (op < 45) {
                                vms.start(id);
                            } else if (op < 58) {
                                vms.pause(id);
                            } else if (op < 71) {
                                vms.resume(id);
                            } else if (op < 78) {
                                vms.reset(id);
                            } else if (op < 90) {
                                vms.stop(id, Duration.ZERO);
                            } else {
                                vms.stop(id);
                            }
                            operations.incrementAndGet();
                        } catch (IllegalVmStateException expected) {
                            operations.incrementAndGet(); // the VM's status does not allow it now
                        } catch (RuntimeException e) {
                            unexpected.put(id + " op " + op + " #" + operations.get(), e);
                        }
                    }
                }));
            }
            pool.shutdown();
            try {
                for (Future<?> worker : workers) {
                    worker.get(SECONDS + 120, TimeUnit.SECONDS);
                }
            } catch (TimeoutException e) {
                throw new AssertionError("workers did not finish; threads:\n" + threadDump());
            } finally {
                pool.shutdownNow();
            }
            assertThat(unexpected).as("unexpected errors").isEmpty();
            assertThat(operations.get()).isPositive();

            // The inventory agrees with the driver and with the processes that exist.
            List<String> active = new ArrayList<>();
            for (String id : ids) {
                Vm vm = vms.get(id);
                VmStatus seen = driver.status(id);
                assertThat(seen).as("driver status of " + id).isEqualTo(vm.status() == VmStatus.CRASHED ? VmStatus.CRASHED : vm.status());
                if (vm.status().isActive()) {
                    active.add(id);
                }
            }
            assertThat(QemuItSupport.qemuProcessesUnder(state)).hasSize(active.size());
            for (String id : active) {
                vms.stop(id, Duration.ZERO);
            }
            for (String id : ids) {
                vms.delete(id);
            }
            System.out.printf("QEMU load: %d operations by %d threads over %d VMs in %d s%n", operations.get(), THREADS,
                    VMS, SECONDS);
        }
    }

    private static String threadDump() {
        return Arrays.stream(ManagementFactory.getThreadMXBean().dumpAllThreads(true, true))
                .map(ThreadInfo::toString).collect(Collectors.joining("\n"));
    }
}
