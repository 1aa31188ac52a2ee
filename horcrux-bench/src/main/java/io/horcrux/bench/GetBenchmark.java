package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.spi.VmStore;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
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
 * Seed rows "Get VM by ID" and "Database Query": a cache hit, a lookup through a manager
 * without a cache (every read a store point read), and the store's own point read.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class GetBenchmark {
    @Param({"IN_MEMORY", "SQLITE"})
    public StoreKind store;

    @Param({"1000"})
    public int size;

    private Path cachedDirectory;
    private Path uncachedDirectory;
    private VmManager cached;
    private VmManager uncached;
    private VmStore rawStore;
    private Path rawDirectory;
    private String[] ids;

    @Setup(Level.Trial)
    public void setUp() {
        cachedDirectory = Fixtures.tempDirectory();
        uncachedDirectory = Fixtures.tempDirectory();
        rawDirectory = Fixtures.tempDirectory();
        cached = Fixtures.manager(store, cachedDirectory, size, true);
        uncached = Fixtures.manager(store, uncachedDirectory, size, false);
        rawStore = store.open(rawDirectory);
        rawStore.insertAll(Fixtures.specs(size).stream()
                .map(s -> new Vm(s, io.horcrux.model.VmStatus.STOPPED, 1, java.time.Instant.EPOCH, java.time.Instant.EPOCH, "", null))
                .toList());
        ids = Fixtures.specs(size).stream().map(s -> s.id()).toArray(String[]::new);
        for (String id : ids) {
            cached.get(id); // warm the cache: every later read is a hit
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cached.close();
        uncached.close();
        rawStore.close();
        Fixtures.deleteRecursively(cachedDirectory);
        Fixtures.deleteRecursively(uncachedDirectory);
        Fixtures.deleteRecursively(rawDirectory);
    }

    private String anyId() {
        return ids[ThreadLocalRandom.current().nextInt(ids.length)];
    }

    @Benchmark
    public Vm cacheHit() {
        return cached.get(anyId());
    }

    @Benchmark
    public Vm uncachedManager() {
        return uncached.get(anyId());
    }

    @Benchmark
    public Optional<Vm> storePointRead() {
        return rawStore.find(anyId());
    }
}
