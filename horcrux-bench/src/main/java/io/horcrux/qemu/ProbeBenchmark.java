package io.horcrux.qemu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
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
 * What the accelerator probe costs a driver's build: the whole automatic probe (every candidate
 * QEMU run up to the one chosen, as on a first build on this host), one candidate's QEMU run
 * under TCG (the floor of a probe: one QEMU boot of the payload), and a build that finds the
 * answer kept from an earlier probe. In the driver's package, since the probe is not API.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 5)
@Fork(1)
@State(Scope.Benchmark)
public class ProbeBenchmark {
    @Param({"Q35", "MICROVM"})
    public MachineType machine;

    private Path directory;
    private QemuProbeRunner runner;
    private boolean kvmOpens;
    private Path keptState;

    @Setup
    public void setUp() throws IOException {
        directory = Files.createTempDirectory("horcrux-bench-probe-");
        Path qemu = QemuBinaries.locate(null, null, null).qemu();
        runner = new QemuProbeRunner(qemu, machine, Files.createDirectory(directory.resolve("work")),
                Duration.ofSeconds(30));
        kvmOpens = AcceleratorChoice.kvmUsable(Path.of("/dev/kvm"));
        keptState = directory.resolve("kept");
        QemuDriver.builder().stateDirectory(keptState).machine(machine).build().close(); // probes once, keeps the answer
    }

    @TearDown
    public void tearDown() throws IOException {
        try (Stream<Path> paths = Files.walk(directory)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** The automatic probe as a first build on this host runs it. */
    @Benchmark
    public HostProbe.Choice automaticProbe() {
        return new HostProbe(runner, kvmOpens).choose(Accelerator.AUTO, null);
    }

    /** One QEMU run of the payload under TCG. */
    @Benchmark
    public HostProbe.Attempt oneCandidateUnderTcg() {
        return runner.run(Accelerator.TCG, HostProbe.TCG_DEFAULT_MODEL);
    }

    /** A driver build whose answer is kept in its state directory (the probe's cost on every build but the first). */
    @Benchmark
    public String buildWithTheAnswerKept() {
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(keptState).machine(machine).build()) {
            return driver.cpuModel();
        } catch (RuntimeException e) {
            throw new UncheckedIOException(new IOException(e));
        }
    }
}
