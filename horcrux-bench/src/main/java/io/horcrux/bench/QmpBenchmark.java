package io.horcrux.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.horcrux.qemu.QmpClient;
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
 * The seed's "connection pooling for the QEMU monitor": a {@code query-status} round trip on
 * Horcrux's persistent {@link QmpClient}, against a new connection per command (what the Rust
 * original does), against a bare socket loop with no JSON library (the floor). One QEMU
 * process with its vCPUs stopped (so that firmware spinning under TCG takes no core from the
 * measurement), one QMP socket per client kind.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class QmpBenchmark {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private Path directory;
    private RawQemu qemu;
    private QmpClient persistent;
    private RawQemu.Monitor raw;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        directory = Fixtures.tempDirectory();
        qemu = RawQemu.spawn(directory, 3, true);
        persistent = QmpClient.connect(qemu.socket(0), TIMEOUT);
        raw = qemu.monitor(2);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        persistent.close();
        raw.close();
        qemu.quit();
        qemu.close();
        Fixtures.deleteRecursively(directory);
    }

    @Benchmark
    public JsonNode persistentClient() {
        return persistent.execute("query-status");
    }

    @Benchmark
    public JsonNode connectionPerCommand() {
        try (QmpClient client = QmpClient.connect(qemu.socket(1), TIMEOUT)) {
            return client.execute("query-status");
        }
    }

    @Benchmark
    public String rawSocketLoop() throws IOException {
        return raw.roundTrip("{\"execute\":\"query-status\"}");
    }
}
