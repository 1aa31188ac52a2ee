package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
 * The seed's shared-read / exclusive-write claim: reads by id while another thread starts and
 * stops VMs (simulated driver), against the same reads with no writer. Reads that never wait
 * for writes score about the same in both groups.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ConcurrencyBenchmark {
    @Param({"IN_MEMORY", "SQLITE"})
    public StoreKind store;

    private static final int VMS = 1000;
    private Path directory;
    private VmManager manager;

    @Setup(Level.Trial)
    public void setUp() {
        directory = Fixtures.tempDirectory();
        manager = Fixtures.manager(store, directory, VMS, true);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
        Fixtures.deleteRecursively(directory);
    }

    private static String anyId() {
        return String.format("vm-%06d", ThreadLocalRandom.current().nextInt(VMS));
    }

    @Benchmark
    @Group("readsOnly")
    @GroupThreads(1)
    public Vm readAlone() {
        return manager.get(anyId());
    }

    @Benchmark
    @Group("readsWithWriter")
    @GroupThreads(1)
    public Vm readBesideWriter() {
        return manager.get(anyId());
    }

    @Benchmark
    @Group("readsWithWriter")
    @GroupThreads(1)
    public Vm startStop() {
        String id = anyId();
        Vm vm = manager.get(id);
        return vm.status().isActive() ? manager.stop(id, Duration.ZERO) : manager.start(id);
    }
}
