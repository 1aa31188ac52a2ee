package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
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
 * Seed rows "List VMs (10/100/1000)": one page of at most 100 VMs, and the full listing of
 * N VMs (through the stream, the way to read a whole inventory).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ListBenchmark {
    @Param({"IN_MEMORY", "SQLITE"})
    public StoreKind store;

    @Param({"10", "100", "1000", "10000"})
    public int size;

    private Path directory;
    private VmManager manager;
    private final VmQuery firstPage = VmQuery.all().limit(100);

    @Setup(Level.Trial)
    public void setUp() {
        directory = Fixtures.tempDirectory();
        manager = Fixtures.manager(store, directory, size, true);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
        Fixtures.deleteRecursively(directory);
    }

    @Benchmark
    public Page<Vm> page() {
        return manager.list(firstPage);
    }

    @Benchmark
    public List<Vm> all() {
        return manager.withStream(VmQuery.all(), s -> s.toList());
    }
}
