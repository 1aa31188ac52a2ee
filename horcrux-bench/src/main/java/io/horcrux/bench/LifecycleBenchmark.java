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
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 15)
@Fork(2)
public class LifecycleBenchmark {
    /** The grace of the graceful-stop benchmark: the guest ignores ACPI, so this is waited out. */
    static final Duration SHORT_GRACE = Duration.ofMillis(200);

    /**
     * The inventory and driver. Benchmark-scoped so that the states below and the benchmark
     * methods share one instance (JMH gives each injection point its own thread-scoped copy).
     */
    @State(Scope.Benchmark)
    public static class Inventory {
        private int counter;
        Path directory;
        VmManager manager;

        @Setup(Level.Trial)
        public void open() {
            directory = Fixtures.tempDirectory();
            manager = VmManager.builder()
                    .store(SqliteStores.open(directory, false))
                    .driver(QemuDriver.builder().stateDirectory(directory.resolve("vms"))
                            .accelerator(Accelerator.AUTO).build())
                    .stopVmsOnClose(true) // a trial cut short by a failure leaves no QEMU behind
                    .build();
        }

        @TearDown(Level.Trial)
        public void close() {
            manager.close();
            Fixtures.deleteRecursively(directory);
        }

        String create() {
            String id = "bench-" + ++counter;
            manager.create(VmSpec.builder().id(id).memoryMiB(64).cpus(1).disk(DiskSpec.qcow2("root", 64L << 20)).build());
            return id;
        }

        void removeIfPresent(String id) {
            manager.find(id).ifPresent(vm -> {
                if (vm.status().isActive()) {
                    manager.stop(id, Duration.ZERO);
                }
                manager.delete(id);
            });
        }
    }

    /** A VM created (stopped) before the call, removed after it. */
    @State(Scope.Thread)
    public static class Created {
        String id;

        @Setup(Level.Invocation)
        public void create(Inventory inventory) {
            id = inventory.create();
        }

        @TearDown(Level.Invocation)
        public void remove(Inventory inventory) {
            inventory.removeIfPresent(id);
        }
    }

    /** A VM created and started before the call, removed after it. */
    @State(Scope.Thread)
    public static class Running {
        String id;

        @Setup(Level.Invocation)
        public void createAndStart(Inventory inventory) {
            id = inventory.create();
            inventory.manager.start(id);
        }

        @TearDown(Level.Invocation)
        public void remove(Inventory inventory) {
            inventory.removeIfPresent(id);
        }
    }

    /** Whatever the measured call created, removed after it. */
    @State(Scope.Thread)
    public static class Made {
        String vmId;
        RawQemu qemu;
        Path rawDirectory;

        /** The raw spawn runs as the driver would: probe the hypervisor before anything is measured. */
        @Setup(Level.Trial)
        public void probeHypervisor() {
            Hypervisor.probed();
        }

        @TearDown(Level.Invocation)
        public void remove(Inventory inventory) {
            if (vmId != null) {
                inventory.removeIfPresent(vmId);
                vmId = null;
            }
            if (qemu != null) {
                qemu.close();
                qemu = null;
            }
            if (rawDirectory != null) {
                Fixtures.deleteRecursively(rawDirectory);
                rawDirectory = null;
            }
        }
    }

    /** A bare QEMU already answering QMP before the call. */
    @State(Scope.Thread)
    public static class RawRunning {
        RawQemu qemu;
        Path directory;

        @Setup(Level.Invocation)
        public void spawn() {
            directory = Fixtures.tempDirectory();
            qemu = RawQemu.spawn(directory, 1);
        }

        @TearDown(Level.Invocation)
        public void remove() {
            qemu.close();
            Fixtures.deleteRecursively(directory);
        }
    }

    @Benchmark
    public String create(Inventory inventory, Made made) {
        made.vmId = inventory.create();
        return made.vmId;
    }

    @Benchmark
    public Vm start(Inventory inventory, Created vm) {
        return inventory.manager.start(vm.id);
    }

    @Benchmark
    public Vm forcedStop(Inventory inventory, Running vm) {
        return inventory.manager.stop(vm.id, Duration.ZERO);
    }

    @Benchmark
    public Vm gracefulStopIgnored(Inventory inventory, Running vm) {
        return inventory.manager.stop(vm.id, SHORT_GRACE);
    }

    @Benchmark
    public void delete(Inventory inventory, Created vm) {
        inventory.manager.delete(vm.id);
    }

    @Benchmark
    public RawQemu rawSpawnToQmpReady(Made made) {
        made.rawDirectory = Fixtures.tempDirectory();
        made.qemu = RawQemu.spawn(made.rawDirectory, 1);
        return made.qemu;
    }

    /**
     * The floor of {@link #create}: {@code qemu-img create} of the same 64 MiB qcow2 image by hand,
     * as a Java program runs it (a {@link ProcessBuilder}, waiting for its exit), in a new directory.
     */
    @Benchmark
    public int rawQemuImgCreate(Made made) throws IOException, InterruptedException {
        made.rawDirectory = Fixtures.tempDirectory();
        Process p = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2",
                made.rawDirectory.resolve("root.qcow2").toString(), Long.toString(64L << 20))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        int exit = p.waitFor();
        if (exit != 0) {
            throw new IllegalStateException("qemu-img create failed with exit " + exit);
        }
        return exit;
    }

    @Benchmark
    public void rawQuit(RawRunning running) throws IOException {
        running.qemu.quit();
    }
}
