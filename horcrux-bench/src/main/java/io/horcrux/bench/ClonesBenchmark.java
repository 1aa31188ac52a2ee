package io.horcrux.bench;

import io.horcrux.Cancellation;
import io.horcrux.ProgressListener;
import io.horcrux.VmManager;
import io.horcrux.model.CloneMode;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.QemuDriver;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * Clones of a template through the whole library (SQLite inventory, QEMU driver) against
 * {@code qemu-img} run by hand on the template's own image, in one run. The template is a VM
 * whose one qcow2 disk holds {@value #TEMPLATE_MIB} MiB of random bytes (every cluster written),
 * made a template once per trial.
 * <ul>
 *   <li>{@link #linkedClone}: {@code VmManager.clone(template, id, LINKED)}: checks, the clone's
 *       overlay (written by the driver, no process), the row and its link; against
 *       {@link #rawOverlay}, {@code qemu-img create -f qcow2 -b <template's image> -F qcow2} of
 *       the same overlay. Goal: the clone under 20 ms.</li>
 *   <li>{@link #fullClone}: {@code VmManager.clone(template, id, FULL)} with a progress listener,
 *       against {@link #rawConvert}, {@code qemu-img convert -f qcow2 -O qcow2} of the template's
 *       image; the throughputs' ratio is the inverse of the times'. Goal: at least 0.9x.</li>
 * </ul>
 * Each call is measured once from a prepared state; what it made is removed after it.
 *
 * <p>{@code java -cp benchmarks.jar io.horcrux.bench.ClonesBenchmark [dir]} runs it and writes
 * {@code dir/clones.json} and {@code dir/clones-machine.json} (default {@code horcrux-bench/target}).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
public class ClonesBenchmark {
    static final int TEMPLATE_MIB = 256;
    static final String TEMPLATE = "golden";

    /** The inventory, the driver and the template, shared by every benchmark of the trial. */
    @State(Scope.Benchmark)
    public static class Template {
        private int counter;
        Path directory;
        Path image;
        Path qemuImg;
        VmManager manager;

        @Setup(Level.Trial)
        public void open() throws Exception {
            directory = Fixtures.tempDirectory("horcrux-bench-clones-");
            QemuDriver driver = QemuDriver.builder().stateDirectory(directory.resolve("vms"))
                    .accelerator(Accelerator.AUTO).build();
            qemuImg = Path.of("qemu-img"); // on PATH, as the driver finds it
            manager = VmManager.builder().store(SqliteStores.open(directory, false)).driver(driver).build();
            Path random = directory.resolve("random.img");
            byte[] chunk = new byte[1 << 20];
            Random bytes = new Random(42);
            try (OutputStream out = Files.newOutputStream(random)) {
                for (int i = 0; i < TEMPLATE_MIB; i++) {
                    bytes.nextBytes(chunk);
                    out.write(chunk);
                }
            }
            manager.create(VmSpec.builder().id(TEMPLATE).memoryMiB(64)
                    .disk(DiskSpec.copyOf("root", random, DiskFormat.QCOW2)).build());
            Files.delete(random);
            manager.makeTemplate(TEMPLATE);
            image = driver.stateDirectory().resolve(TEMPLATE).resolve("root.qcow2");
            if (!Files.isRegularFile(image)) {
                throw new IllegalStateException("the template's image is not at " + image);
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            manager.close();
            Fixtures.deleteRecursively(directory);
        }

        String nextId() {
            return "clone-" + ++counter;
        }

        Path nextFile() {
            return directory.resolve("raw-" + ++counter + ".qcow2");
        }

    }

    /** Whatever the measured call made: a VM, a file; removed after each call. */
    @State(Scope.Thread)
    public static class Made {
        String vmId;
        Path file;

        @TearDown(Level.Invocation)
        public void remove(Template template) throws IOException {
            if (vmId != null) {
                template.manager.delete(vmId);
                vmId = null;
            }
            if (file != null) {
                Files.deleteIfExists(file);
                file = null;
            }
        }
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 40)
    public String linkedClone(Template template, Made made) {
        made.vmId = template.nextId();
        template.manager.clone(TEMPLATE, made.vmId, CloneMode.LINKED);
        return made.vmId;
    }

    @Benchmark
    @Warmup(iterations = 10)
    @Measurement(iterations = 40)
    public Path rawOverlay(Template template, Made made) {
        made.file = template.nextFile();
        Fixtures.run(List.of(template.qemuImg.toString(), "create", "-q", "-f", "qcow2", "-b", template.image.toString(),
                "-F", "qcow2", made.file.toString()));
        return made.file;
    }

    @Benchmark
    @Warmup(iterations = 2)
    @Measurement(iterations = 8)
    public String fullClone(Template template, Made made) {
        made.vmId = template.nextId();
        double[] last = {0};
        ProgressListener listener = progress -> last[0] = progress.percent();
        template.manager.clone(TEMPLATE, made.vmId, null, CloneMode.FULL, listener, Cancellation.create());
        if (last[0] != 100) {
            throw new IllegalStateException("the copy's last progress was " + last[0]);
        }
        return made.vmId;
    }

    @Benchmark
    @Warmup(iterations = 2)
    @Measurement(iterations = 8)
    public Path rawConvert(Template template, Made made) {
        made.file = template.nextFile();
        Fixtures.run(List.of(template.qemuImg.toString(), "convert", "-f", "qcow2", "-O", "qcow2",
                template.image.toString(), made.file.toString()));
        return made.file;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "horcrux-bench/target");
        Files.createDirectories(dir);
        Path out = dir.resolve("clones.json");
        new Runner(new OptionsBuilder().include(ClonesBenchmark.class.getName().replace(".", "\\.") + "\\.")
                .resultFormat(ResultFormatType.JSON).result(out.toString()).build()).run();
        Suite.writeMachine(Suite.machineFile(out));
    }
}
