package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.IllegalVmStateException;
import io.horcrux.VmManager;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Many threads mixing every operation over hundreds of VMs for a while: no deadlock (a
 * watchdog dumps the threads and fails), no lost update (the final inventory equals a model
 * built from the acknowledged results), the cache equal to the store, no thread left behind.
 *
 * <p>Runs for {@code horcrux.load.seconds} seconds (default 30) with {@code horcrux.load.threads}
 * threads (default 8). By default over the {@link SimulatedDriver} and {@value #INITIAL_VMS} VMs;
 * a subclass may run it over a real driver ({@link #newDriver()}) with fewer VMs
 * ({@link #initialVms()}, {@link #maxVms()}).
 */
public abstract class ManagerLoadContract {
    private static final int INITIAL_VMS = 200;
    private final long seconds = Long.getLong("horcrux.load.seconds", 30);
    private final int threads = Integer.getInteger("horcrux.load.threads", 8);

    /** A fresh, empty store; the manager closes it. */
    protected abstract VmStore newStore();

    /** The driver to run the load over; the manager closes it. Default: a {@link SimulatedDriver}. */
    protected VmDriver newDriver() {
        return SimulatedDriver.create();
    }

    /** How many VMs exist before the threads start; default {@value #INITIAL_VMS}. */
    protected int initialVms() {
        return INITIAL_VMS;
    }

    /** Creates stop once this many VMs were ever created; default unbounded. */
    protected int maxVms() {
        return Integer.MAX_VALUE;
    }

    /** Deletes stop while fewer than about this many VMs are left; default 0. */
    protected int minVms() {
        return 0;
    }

    /** The fewest operations the threads must have completed for the run to count; default 1000. */
    protected long minOperations() {
        return 1000;
    }

    /** The shape of each VM; default 64 MiB, no disk, labelled {@code load=yes}. */
    protected VmSpec spec(String id) {
        return VmSpec.builder().id(id).memoryMiB(64).label("load", "yes").build();
    }

    /**
     * Checks, after the load and before the manager closes, that the driver agrees with the
     * final inventory. Default: the simulated driver runs exactly the active VMs.
     */
    protected void assertDriverAgrees(VmDriver driver, Collection<Vm> inventory) {
        long active = inventory.stream().filter(vm -> vm.status().isActive()).count();
        assertThat(((SimulatedDriver) driver).activeCount()).isEqualTo(active);
    }

    /** Reported by the load test once it passed: threads, seconds, operations, final VM count. */
    protected void report(int threads, long seconds, long operations, int vms) {
        System.out.printf("load: %d threads, %d s, %d operations, %d VMs at the end%n", threads, seconds,
                operations, vms);
    }

    /** The last acknowledged fact about one VM. */
    private record Ack(long version, Vm vm, boolean deleted) {
    }

    @Test
    void mixedOperationsFromManyThreadsLoseNothingAndNeverDeadlock() throws Exception {
        VmDriver driver = newDriver();
        VmManager manager = VmManager.builder().store(newStore()).driver(driver).batchParallelism(4).build();
        Map<String, Ack> acks = new ConcurrentHashMap<>();
        AtomicInteger nextId = new AtomicInteger();
        AtomicInteger deleted = new AtomicInteger();
        AtomicLong operations = new AtomicLong();
        List<Vm> initial = manager.createAll(IntStream.range(0, initialVms())
                .mapToObj(i -> spec("vm-" + nextId.getAndIncrement())).toList());
        initial.forEach(vm -> acks.put(vm.id(), new Ack(vm.version(), vm, false)));
        Map<String, Throwable> unexpected = new ConcurrentHashMap<>();

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(pool.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                while (System.nanoTime() < deadline) {
                    String id = "vm-" + random.nextInt(nextId.get());
                    int op = random.nextInt(100);
                    try {
                        if (op < 30) {
                            manager.find(id);
                        } else if (op < 35) {
                            manager.list(VmQuery.all().withLabel("load", "yes").limit(50));
                        } else if (op < 37) {
                            try (Stream<Vm> s = manager.stream(VmQuery.all())) {
                                s.limit(100).forEach(vm -> { });
                            }
                        } else if (op < 42) {
                            if (nextId.get() >= maxVms()) {
                                manager.count(VmQuery.all());
                            } else {
                                Vm vm = manager.create(spec("vm-" + nextId.getAndIncrement()));
                                acknowledge(acks, vm);
                            }
                        } else if (op < 57) {
                            acknowledge(acks, manager.start(id));
                        } else if (op < 67) {
                            acknowledge(acks, manager.pause(id));
                        } else if (op < 77) {
                            acknowledge(acks, manager.resume(id));
                        } else if (op < 95) {
                            acknowledge(acks, manager.stop(id, Duration.ZERO));
                        } else if (nextId.get() - deleted.get() <= minVms()) {
                            manager.count(VmQuery.all());
                        } else {
                            Vm before = manager.find(id).orElse(null);
                            manager.delete(id);
                            deleted.incrementAndGet();
                            // Deletion is final: ids are never reused in this test.
                            acks.put(id, new Ack(Long.MAX_VALUE, before, true));
                        }
                        operations.incrementAndGet();
                    } catch (IllegalVmStateException | VmNotFoundException expected) {
                        operations.incrementAndGet();
                    } catch (Throwable e) {
                        unexpected.putIfAbsent(id + " op " + op, e);
                    }
                }
                return null;
            }));
        }
        try {
            for (Future<?> worker : workers) {
                worker.get(seconds + 60, TimeUnit.SECONDS);
            }
        } catch (TimeoutException e) {
            throw new AssertionError("workers did not finish: deadlock?\n" + threadDump());
        } finally {
            pool.shutdownNow();
        }

        assertThat(unexpected).as("unexpected exceptions").isEmpty();
        assertThat(operations.get()).as("operations completed").isGreaterThanOrEqualTo(minOperations());
        Map<String, Vm> stored = new HashMap<>();
        try (Stream<Vm> all = manager.stream(VmQuery.all())) {
            all.forEach(vm -> stored.put(vm.id(), vm));
        }
        for (Map.Entry<String, Ack> e : acks.entrySet()) {
            Ack ack = e.getValue();
            if (ack.deleted()) {
                assertThat(stored).as("deleted " + e.getKey()).doesNotContainKey(e.getKey());
            } else {
                assertThat(stored.get(e.getKey())).as("VM " + e.getKey()).isEqualTo(ack.vm());
            }
        }
        assertThat(stored.keySet()).allSatisfy(id -> assertThat(acks).containsKey(id));
        stored.values().forEach(vm -> assertThat(manager.get(vm.id())).isEqualTo(vm));
        assertDriverAgrees(driver, stored.values());

        manager.close();
        assertThat(waitForNoLibraryThreads()).as("threads left by the manager").isEmpty();
        report(threads, seconds, operations.get(), stored.size());
    }

    private static void acknowledge(Map<String, Ack> acks, Vm vm) {
        acks.merge(vm.id(), new Ack(vm.version(), vm, false),
                (old, now) -> old.deleted() || old.version() >= now.version() ? old : now);
    }

    static List<String> waitForNoLibraryThreads() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<String> left;
        do {
            left = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                    .map(Thread::getName).filter(n -> n.startsWith("horcrux-")).collect(Collectors.toList());
            if (left.isEmpty()) {
                return left;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        return left;
    }

    static String threadDump() {
        StringBuilder sb = new StringBuilder();
        for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
            sb.append(info);
        }
        return sb.toString();
    }

}
