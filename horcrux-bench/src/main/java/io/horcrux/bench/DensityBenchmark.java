package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.BatchResult;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.MachineType;
import io.horcrux.qemu.QemuDriver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Many VMs at once: {@code startAll} of {@code vms} VMs (100, the ratio the suite checks, and
 * 200) through the whole library (SQLite inventory, QEMU driver, one monitor loop for all),
 * against the same number of raw QEMU spawns to QMP ready run on as many threads as the
 * manager's batch pool has. The guests are
 * microvm with 16 MiB and nothing to boot, so they idle cheaply under either accelerator; raw
 * QEMU gets the same machine, memory, accelerator and CPU model. Each measured call starts with
 * none running; they are ended after it. A call takes seconds, and the load of a shared machine
 * changes from one trial to the next, so the suite measures the ratio of 100 VMs in
 * {@linkplain PairedRounds#alternating alternating rounds} of the two sides.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 4)
@Fork(1)
public class DensityBenchmark {
    /** How many VMs a call starts. */
    @Param({"100", "200"})
    public int vms;
    /** The manager's batch threads, and the raw spawns' threads. */
    static final int PARALLELISM = Math.max(2, Runtime.getRuntime().availableProcessors());
    private static final int MEMORY_MIB = 16;

    private Path directory;
    private VmManager manager;
    private List<String> ids;
    private ExecutorService rawPool;
    private final List<RawQemu> raw = new ArrayList<>();

    @Setup(Level.Trial)
    public void open() {
        Hypervisor.probed(); // raw QEMU runs as the driver's VMs do
        directory = Fixtures.tempDirectory();
        manager = VmManager.builder()
                .store(SqliteStores.open(directory, false))
                .driver(QemuDriver.builder().stateDirectory(directory.resolve("vms"))
                        .accelerator(Accelerator.AUTO).machine(MachineType.MICROVM).defaultStopGrace(Duration.ZERO).build())
                .batchParallelism(PARALLELISM)
                .stopVmsOnClose(true)
                .build();
        List<VmSpec> specs = new ArrayList<>();
        for (int i = 0; i < vms; i++) {
            specs.add(VmSpec.builder().id("dense-" + i).memoryMiB(MEMORY_MIB).cpus(1).build());
        }
        ids = manager.createAll(specs).stream().map(Vm::id).toList();
        rawPool = Executors.newFixedThreadPool(PARALLELISM);
    }

    @TearDown(Level.Trial)
    public void close() {
        rawPool.shutdownNow();
        manager.close();
        Fixtures.deleteRecursively(directory);
    }

    /** Ends what the measured call started: the manager's VMs stopped, raw QEMUs killed. */
    @TearDown(Level.Invocation)
    public void endAll() {
        BatchResult<Vm> stopped = manager.stopAll(ids.stream().filter(id -> manager.get(id).status().isActive()).toList());
        if (!stopped.allSucceeded()) {
            throw new IllegalStateException("stopAll failed: " + stopped.failed());
        }
        raw.forEach(RawQemu::closeAndAwait);
        raw.clear();
        Fixtures.deleteRecursively(directory.resolve("raw"));
    }

    @Benchmark
    public BatchResult<Vm> startAll() {
        BatchResult<Vm> started = manager.startAll(ids);
        if (!started.allSucceeded()) {
            throw new IllegalStateException("startAll failed: " + started.failed());
        }
        return started;
    }

    @Benchmark
    public int rawSpawns() throws InterruptedException, ExecutionException {
        List<Future<RawQemu>> spawns = new ArrayList<>();
        for (int i = 0; i < vms; i++) {
            Path vm = directory.resolve("raw").resolve("vm" + i);
            spawns.add(rawPool.submit(() -> RawQemu.spawn(vm, 1, false, "microvm", MEMORY_MIB, true)));
        }
        for (Future<RawQemu> spawn : spawns) {
            raw.add(spawn.get());
        }
        return raw.size();
    }
}
