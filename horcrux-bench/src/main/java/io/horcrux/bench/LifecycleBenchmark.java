package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.QemuDriver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Seed rows "Create VM", "Start VM" and "Stop VM" on real QEMU through the whole library (SQLite
 * inventory, QEMU driver), each call measured once from a prepared state; and, in the same
 * run, raw QEMU's own spawn-to-QMP-ready and {@code quit} as the floor. The VM is q35 with 64
 * MiB, one 64 MiB qcow2 disk and no guest OS, so a graceful stop always waits out its grace.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 15)
@Fork(2)
public class LifecycleBenchmark {
    /** The grace of the graceful-stop benchmark: the guest ignores ACPI, so this is waited out. */
    static final Duration SHORT_GRACE = Duration.ofMillis(200);

    private final AtomicInteger counter = new AtomicInteger();
    private Path directory;
    private VmManager manager;
    private String id;
    private RawQemu raw;
    private Path rawDirectory;

    @Setup(Level.Trial)
    public void setUp() {
        directory = Fixtures.tempDirectory();
        manager = VmManager.builder()
                .store(SqliteStores.open(directory, false))
                .driver(QemuDriver.builder().stateDirectory(directory.resolve("vms")).accelerator(Accelerator.AUTO).build())
                .build();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
        Fixtures.deleteRecursively(directory);
    }

    private VmSpec nextSpec() {
        id = "bench-" + counter.incrementAndGet();
        return VmSpec.builder().id(id).memoryMiB(64).cpus(1).disk(DiskSpec.qcow2("root", 64L << 20)).build();
    }

    /** State for one invocation: a VM created, and running when the benchmark needs it. */
    @State(Scope.Thread)
    public static class Created {
        LifecycleBenchmark outer;

        @Setup(Level.Invocation)
        public void create(LifecycleBenchmark b) {
            outer = b;
            b.manager.create(b.nextSpec());
        }

        @TearDown(Level.Invocation)
        public void remove() {
            outer.removeIfPresent();
        }
    }

    /** State for one invocation: a VM created and started. */
    @State(Scope.Thread)
    public static class Running {
        LifecycleBenchmark outer;

        @Setup(Level.Invocation)
        public void createAndStart(LifecycleBenchmark b) {
            outer = b;
            b.manager.create(b.nextSpec());
            b.manager.start(b.id);
        }

        @TearDown(Level.Invocation)
        public void remove() {
            outer.removeIfPresent();
        }
    }

    void removeIfPresent() {
        manager.find(id).ifPresent(vm -> {
            if (vm.status().isActive()) {
                manager.stop(id, Duration.ZERO);
            }
            manager.delete(id);
        });
    }

    /** State for one invocation: a bare QEMU already answering QMP. */
    @State(Scope.Thread)
    public static class RawRunning {
        RawQemu qemu;
        Path dir;

        @Setup(Level.Invocation)
        public void spawn() {
            dir = Fixtures.tempDirectory();
            qemu = RawQemu.spawn(dir, 1);
        }

        @TearDown(Level.Invocation)
        public void remove() {
            qemu.close();
            Fixtures.deleteRecursively(dir);
        }
    }

    @Benchmark
    public Vm create(Cleanup cleanup) {
        Vm vm = manager.create(nextSpec());
        cleanup.id = vm.id();
        cleanup.manager = manager;
        return vm;
    }

    /** Deletes what {@link #create} made, outside the measurement. */
    @State(Scope.Thread)
    public static class Cleanup {
        VmManager manager;
        String id;

        @TearDown(Level.Invocation)
        public void delete() {
            if (manager != null && id != null) {
                manager.delete(id);
                id = null;
            }
        }
    }

    @Benchmark
    public Vm start(Created vm) {
        return manager.start(id);
    }

    @Benchmark
    public Vm forcedStop(Running vm) {
        return manager.stop(id, Duration.ZERO);
    }

    @Benchmark
    public Vm gracefulStopIgnored(Running vm) {
        return manager.stop(id, SHORT_GRACE);
    }

    @Benchmark
    public void delete(Created vm) {
        manager.delete(id);
    }

    @Benchmark
    public RawQemu rawSpawnToQmpReady(RawCleanup cleanup) {
        cleanup.dir = Fixtures.tempDirectory();
        cleanup.qemu = RawQemu.spawn(cleanup.dir, 1);
        return cleanup.qemu;
    }

    /** Kills what {@link #rawSpawnToQmpReady} spawned, outside the measurement. */
    @State(Scope.Thread)
    public static class RawCleanup {
        RawQemu qemu;
        Path dir;

        @TearDown(Level.Invocation)
        public void remove() {
            if (qemu != null) {
                qemu.close();
                Fixtures.deleteRecursively(dir);
                qemu = null;
            }
        }
    }

    @Benchmark
    public void rawQuit(RawRunning running) throws IOException {
        running.qemu.quit();
    }
}
