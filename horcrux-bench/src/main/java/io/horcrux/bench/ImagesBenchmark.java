package io.horcrux.bench;

import io.horcrux.Cancellation;
import io.horcrux.ProgressListener;
import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.QemuDriver;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Random;
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
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Disks from images through the whole library (SQLite inventory, QEMU driver) against
 * {@code qemu-img} run by hand on the same files, in one run:
 * <ul>
 *   <li>{@link #overlayCreate}: {@code VmManager.create} of a VM whose one disk is an overlay on a
 *       1 GiB qcow2 base (a VM from a base the driver has seen: its format is known), against
 *       {@link #rawOverlayCreate}, {@code qemu-img create -f qcow2 -b <base> -F qcow2} of the
 *       same overlay; goal: within 1.5x. {@link #overlayCreateFirstOfItsBase} is the same create
 *       on a base the driver has not seen (a fresh copy of the base each time), which pays
 *       {@code qemu-img info --backing-chain} once more: reported, no goal.</li>
 *   <li>{@link #copyCreate}: {@code VmManager.create} of a VM whose disk is a full qcow2 copy of a
 *       256 MiB raw image of random bytes (every cluster written), with a progress listener,
 *       against {@link #rawConvert}, {@code qemu-img convert -f raw -O qcow2} of the same image;
 *       the throughputs' ratio is the inverse of the times'; goal: at least 0.9x.</li>
 * </ul>
 * Each call is measured once from a prepared state; what it made is removed after it.
 *
 * <p>{@code java -cp benchmarks.jar io.horcrux.bench.ImagesBenchmark [dir]} runs it and writes
 * {@code dir/images.json} and {@code dir/images-machine.json} (default {@code horcrux-bench/target}).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
public class ImagesBenchmark {
    static final long BASE_BYTES = 1L << 30;
    static final int COPY_BYTES = 256 << 20;

    /** The inventory, the driver and the source images, shared by every benchmark of the trial. */
    @State(Scope.Benchmark)
    public static class Images {
        private int counter;
        Path directory;
        Path base;
        Path source;
        Path qemuImg;
        VmManager manager;

        @Setup(Level.Trial)
        public void open() throws Exception {
            directory = Fixtures.tempDirectory("horcrux-bench-images-");
            QemuDriver driver = QemuDriver.builder().stateDirectory(directory.resolve("vms"))
                    .accelerator(Accelerator.AUTO).build();
            qemuImg = Path.of("qemu-img"); // on PATH, as the driver finds it
            manager = VmManager.builder().store(SqliteStores.open(directory, false)).driver(driver).build();
            base = directory.resolve("base.qcow2");
            run(List.of(qemuImg.toString(), "create", "-q", "-f", "qcow2", base.toString(), Long.toString(BASE_BYTES)));
            source = directory.resolve("golden.img");
            byte[] chunk = new byte[1 << 20];
            Random random = new Random(42);
            try (OutputStream out = Files.newOutputStream(source)) {
                for (int i = 0; i < COPY_BYTES / chunk.length; i++) {
                    random.nextBytes(chunk);
                    out.write(chunk);
                }
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            manager.close();
            Fixtures.deleteRecursively(directory);
        }

        String nextId() {
            return "img-" + ++counter;
        }

        Path nextFile(String suffix) {
            return directory.resolve("raw-" + ++counter + suffix);
        }

        void run(List<String> args) {
            Fixtures.run(args);
        }
    }

    /** Whatever the measured call made: a VM, a file; removed after each call. */
    @State(Scope.Thread)
    public static class Made {
        String vmId;
        Path file;
        Path freshBase;

        @TearDown(Level.Invocation)
        public void remove(Images images) throws IOException {
            if (vmId != null) {
                images.manager.delete(vmId);
                vmId = null;
            }
            if (file != null) {
                Files.deleteIfExists(file);
                file = null;
            }
        }
    }

    /** A copy of the base the driver has not seen, made before the call. */
    @State(Scope.Thread)
    public static class UnseenBase {
        Path base;

        @Setup(Level.Invocation)
        public void copy(Images images) throws IOException {
            base = images.nextFile(".qcow2");
            Files.copy(images.base, base, StandardCopyOption.COPY_ATTRIBUTES);
        }

        @TearDown(Level.Invocation)
        public void remove() throws IOException {
            Files.deleteIfExists(base);
        }
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 40)
    public String overlayCreate(Images images, Made made) {
        made.vmId = images.nextId();
        images.manager.create(VmSpec.builder().id(made.vmId).memoryMiB(64).disk(DiskSpec.overlay("root", images.base)).build());
        return made.vmId;
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 40)
    public String overlayCreateFirstOfItsBase(Images images, UnseenBase unseen, Made made) {
        made.vmId = images.nextId();
        images.manager.create(VmSpec.builder().id(made.vmId).memoryMiB(64).disk(DiskSpec.overlay("root", unseen.base)).build());
        return made.vmId;
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 40)
    public Path rawOverlayCreate(Images images, Made made) {
        made.file = images.nextFile(".qcow2");
        images.run(List.of(images.qemuImg.toString(), "create", "-q", "-f", "qcow2", "-b", images.base.toString(),
                "-F", "qcow2", made.file.toString()));
        return made.file;
    }

    @Benchmark
    @Warmup(iterations = 2)
    @Measurement(iterations = 8)
    public String copyCreate(Images images, Made made) {
        made.vmId = images.nextId();
        double[] last = {0};
        ProgressListener listener = progress -> last[0] = progress.percent();
        images.manager.create(VmSpec.builder().id(made.vmId).memoryMiB(64).disk(DiskSpec.copyOf("root", images.source)).build(),
                listener, Cancellation.create());
        if (last[0] != 100) {
            throw new IllegalStateException("the copy's last progress was " + last[0]);
        }
        return made.vmId;
    }

    @Benchmark
    @Warmup(iterations = 2)
    @Measurement(iterations = 8)
    public Path rawConvert(Images images, Made made) {
        made.file = images.nextFile(".qcow2");
        images.run(List.of(images.qemuImg.toString(), "convert", "-f", "raw", "-O", "qcow2", images.source.toString(),
                made.file.toString()));
        return made.file;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "horcrux-bench/target");
        Files.createDirectories(dir);
        Path out = dir.resolve("images.json");
        new Runner(new OptionsBuilder().include(ImagesBenchmark.class.getName().replace(".", "\\.") + "\\.")
                .resultFormat(ResultFormatType.JSON).result(out.toString()).build()).run();
        Suite.writeMachine(Suite.machineFile(out));
    }
}
