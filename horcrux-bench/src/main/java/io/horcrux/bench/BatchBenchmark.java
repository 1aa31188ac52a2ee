package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmStore;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.SimulatedDriver;
import java.nio.file.Path;
import java.util.List;
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
 * The seed's "batch operations": creating 1000 VMs in one {@code createAll} (one store
 * transaction) against 1000 single {@code create} calls, on SQLite with synchronous NORMAL
 * and FULL, and in memory. Each measured call starts from an empty inventory.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 10)
@Fork(1)
public class BatchBenchmark {
    /** The store and its durability setting. */
    public enum Target { IN_MEMORY, SQLITE_NORMAL, SQLITE_FULL }

    @Param({"IN_MEMORY", "SQLITE_NORMAL", "SQLITE_FULL"})
    public Target target;

    @Param({"1000"})
    public int size;

    private List<VmSpec> specs;
    private Path directory;
    private VmManager manager;

    @Setup(Level.Trial)
    public void specs() {
        specs = Fixtures.specs(size);
    }

    @Setup(Level.Iteration)
    public void emptyInventory() {
        directory = Fixtures.tempDirectory();
        VmStore store = switch (target) {
            case IN_MEMORY -> InMemoryVmStore.create();
            case SQLITE_NORMAL -> SqliteStores.open(directory, false);
            case SQLITE_FULL -> SqliteStores.open(directory, true);
        };
        manager = VmManager.builder().store(store).driver(SimulatedDriver.create()).build();
    }

    @TearDown(Level.Iteration)
    public void dropInventory() {
        manager.close();
        Fixtures.deleteRecursively(directory);
    }

    @Benchmark
    public List<Vm> createAll() {
        return manager.createAll(specs);
    }

    @Benchmark
    public int createOneByOne() {
        for (VmSpec spec : specs) {
            manager.create(spec);
        }
        return specs.size();
    }
}
