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
import org.openjdk.jmh.infra.Blackhole;

/**
 * The seed's "streaming for large datasets": visiting every VM of a large inventory through
 * the stream (one cursor, bounded memory) against loading them all into a list first, and
 * against walking keyset pages. Run with {@code -prof gc} for the allocation figures.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = "-Xmx2g")
public class StreamBenchmark {
    @Param({"SQLITE", "IN_MEMORY"})
    public StoreKind store;

    @Param({"100000"})
    public int size;

    private Path directory;
    private VmManager manager;

    @Setup(Level.Trial)
    public void setUp() {
        directory = Fixtures.tempDirectory();
        manager = Fixtures.manager(store, directory, size, false);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
        Fixtures.deleteRecursively(directory);
    }

    @Benchmark
    public void stream(Blackhole bh) {
        manager.withStream(VmQuery.all(), s -> {
            s.forEach(bh::consume);
            return null;
        });
    }

    @Benchmark
    public void loadAllThenVisit(Blackhole bh) {
        List<Vm> all = manager.withStream(VmQuery.all(), s -> s.toList());
        all.forEach(bh::consume);
    }

    @Benchmark
    public void pages(Blackhole bh) {
        VmQuery query = VmQuery.all().limit(VmQuery.MAX_LIMIT);
        while (true) {
            Page<Vm> page = manager.list(query);
            page.items().forEach(bh::consume);
            if (page.nextCursor().isEmpty()) {
                break;
            }
            query = query.after(page.nextCursor().get());
        }
    }
}
