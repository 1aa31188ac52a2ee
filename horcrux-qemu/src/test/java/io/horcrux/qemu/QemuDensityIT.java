package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmManager;
import io.horcrux.model.BatchResult;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.InMemoryVmStore;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hundreds of real QEMU VMs under one manager: {@code horcrux.qemu.density.vms} (default 200)
 * small guests (16 MiB, no disk, no kernel: microvm's firmware finds nothing to boot and idles)
 * started in one {@code startAll}, each paused and resumed, some killed behind the driver's
 * back (reported CRASHED), and the rest stopped in one {@code stopAll}. The JVM's
 * threads stay within {@value #MAX_EXTRA_THREADS} of their number with no VM running, whatever
 * the number of VMs, and the heap the manager holds per running VM stays under
 * {@value #MAX_HEAP_PER_VM} bytes.
 */
class QemuDensityIT {
    private static final int VMS = Integer.getInteger("horcrux.qemu.density.vms", 200);
    /** The goal is "under 10 more" threads than with no VM. */
    static final int MAX_EXTRA_THREADS = 9;
    /** The goal, 64 KiB, with no slack: the figure measured is printed. */
    static final long MAX_HEAP_PER_VM = 64 << 10;
    private static final int KILLED = 5;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();
    private static Path state;

    @BeforeAll
    static void createState() throws Exception {
        state = QemuItSupport.newStateDirectory("dense");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(state);
    }

    private static VmSpec small(String id) {
        return VmSpec.builder().id(id).memoryMiB(VmSpec.MIN_MEMORY_MIB).cpus(1).build();
    }

    @Test
    void hundredsOfVmsRunOnAConstantNumberOfThreadsAndLittleHeapEach() throws Exception {
        QemuDriver driver = QemuItSupport.driverBuilder(state).defaultStopGrace(Duration.ZERO).build();
        ExecutorService batch = Executors.newFixedThreadPool(2);
        try (VmManager vms = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).batchExecutor(batch)
                .build()) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < VMS; i++) {
                ids.add(vms.create(small("dense-" + i)).id());
            }
            int freshThreads = THREADS.getThreadCount(); // no VM ever started
            // With no VM running: after one start and stop, so that what any first use starts is counted.
            BatchResult<Vm> warm = vms.startAll(ids.subList(0, 2));
            assertThat(warm.failed()).isEmpty();
            assertThat(vms.stopAll(ids.subList(0, 2)).failed()).isEmpty();
            int idleThreads = THREADS.getThreadCount();
            long idleHeap = settledHeap();
            Map<String, Integer> idleNames = threadNames();

            BatchResult<Vm> started = vms.startAll(ids);
            assertThat(started.failed()).as("start failures").isEmpty();
            assertThat(QemuItSupport.qemuProcessesUnder(state)).hasSize(VMS);
            for (String id : ids) {
                assertThat(driver.status(id)).as(id).isEqualTo(VmStatus.RUNNING);
            }
            int runningThreads = THREADS.getThreadCount();
            long runningHeap = settledHeap();
            Map<String, Integer> runningNames = threadNames();
            long heapPerVm = (runningHeap - idleHeap) / VMS;
            System.out.printf("QEMU density: %d VMs (%s); threads %d before any start, %d with none running, %d with all"
                    + " running; heap %d KiB with none, %d KiB with all: %d bytes per VM%n", VMS, driver.accelerator(),
                    freshThreads, idleThreads, runningThreads, idleHeap >> 10, runningHeap >> 10, heapPerVm);
            writeFigures(driver.accelerator(), freshThreads, idleThreads, runningThreads, heapPerVm);
            assertThat(runningThreads - freshThreads)
                    .as("threads with %d VMs running beyond those before any start; with all: %s", VMS, runningNames)
                    .isLessThanOrEqualTo(MAX_EXTRA_THREADS);
            assertThat(runningThreads - idleThreads)
                    .as("threads with %d VMs running beyond those with none; with none: %s; with all: %s", VMS,
                            idleNames, runningNames)
                    .isLessThanOrEqualTo(MAX_EXTRA_THREADS);
            assertThat(heapPerVm).as("heap per running VM, bytes").isLessThan(MAX_HEAP_PER_VM);

            // Commands to every VM at this density: each answers, and the threads stay as they are.
            for (String id : ids) {
                assertThat(vms.pause(id).status()).isEqualTo(VmStatus.PAUSED);
                assertThat(vms.resume(id).status()).isEqualTo(VmStatus.RUNNING);
            }
            assertThat(THREADS.getThreadCount() - idleThreads).as("threads after commands to every VM: %s",
                    threadNames()).isLessThanOrEqualTo(MAX_EXTRA_THREADS);

            // Supervision at this density: VMs killed behind the driver's back are reported.
            List<String> killed = ids.subList(VMS - KILLED, VMS);
            for (String id : killed) {
                QemuItSupport.kill(driver, id, true);
            }
            for (String id : killed) {
                QemuItSupport.await(id + " reported CRASHED", Duration.ofSeconds(60),
                        () -> vms.get(id).status() == VmStatus.CRASHED);
            }
            System.out.printf("QEMU density: threads %d after %d VMs crashed: %s%n", THREADS.getThreadCount(), KILLED,
                    threadNames());
            List<String> alive = ids.subList(0, VMS - KILLED);
            BatchResult<Vm> stopped = vms.stopAll(alive);
            assertThat(stopped.failed()).as("stop failures").isEmpty();
            assertThat(QemuItSupport.qemuProcessesUnder(state)).isEmpty();
            assertThat(vms.deleteAll(ids).failed()).isEmpty();
        } finally {
            batch.shutdownNow();
            batch.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    /**
     * Writes the figures to {@code target/density-it.properties}, the form the benchmark report
     * reads them in ({@code horcrux-bench/baselines/density-it.properties} is a copy).
     */
    private static void writeFigures(Accelerator accelerator, int fresh, int idle, int running, long heapPerVm)
            throws java.io.IOException {
        java.util.Properties figures = new java.util.Properties();
        figures.setProperty("vms", Integer.toString(VMS));
        figures.setProperty("accelerator", accelerator.name());
        figures.setProperty("date", java.time.LocalDate.now(java.time.ZoneOffset.UTC).toString());
        figures.setProperty("threadsBeforeAnyStart", Integer.toString(fresh));
        figures.setProperty("threadsNoneRunning", Integer.toString(idle));
        figures.setProperty("threadsAllRunning", Integer.toString(running));
        figures.setProperty("heapBytesPerVm", Long.toString(heapPerVm));
        try (var out = java.nio.file.Files.newBufferedWriter(Path.of("target", "density-it.properties"))) {
            figures.store(out, "QemuDensityIT");
        }
    }

    /** Heap in use after the collector has had its say, in bytes. */
    private static long settledHeap() throws InterruptedException {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(100);
            used = Math.min(used, MEMORY.getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    /** The live threads by name, numbers dropped, with how many of each. */
    private static Map<String, Integer> threadNames() {
        return Arrays.stream(THREADS.getThreadInfo(THREADS.getAllThreadIds())).filter(java.util.Objects::nonNull)
                .collect(Collectors.toMap(t -> t.getThreadName().replaceAll("[0-9]+", "N"), t -> 1, Integer::sum,
                        TreeMap::new));
    }
}
