package io.horcrux.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CI baseline check fails on a gross regression and passes on noise. */
class SuiteCheckTest {
    @TempDir
    Path dir;

    /** A JMH result file with the quick subset's benchmarks at these medians (ms). */
    private Results results(String name, double createAll, double createOneByOne, double start, double spawn,
                            double forcedStop, double quit) throws IOException {
        return results(name, createAll, createOneByOne, start, spawn, forcedStop, quit, 1200);
    }

    /** As above, with the SQLite listing of 1000 VMs through the manager at {@code list} µs (raw: 1500 µs). */
    private Results results(String name, double createAll, double createOneByOne, double start, double spawn,
                            double forcedStop, double quit, double list) throws IOException {
        List<String> runs = new ArrayList<>();
        runs.add(run("ListingFloorBenchmark.list", "\"size\":\"1000\"", list, "us/op"));
        runs.add(run("ListingFloorBenchmark.stream", "\"size\":\"1000\"", 1300, "us/op"));
        runs.add(run("ListingFloorBenchmark.rawList", "\"size\":\"1000\"", 1500, "us/op"));
        runs.add(run("ListingFloorBenchmark.getUncached", "\"size\":\"1000\"", 12, "us/op"));
        runs.add(run("ListingFloorBenchmark.rawGet", "\"size\":\"1000\"", 10, "us/op"));
        runs.add(run("JsonBenchmark.serialize", "\"size\":\"100\",\"store\":\"SQLITE\"", 45, "us/op"));
        runs.add(run("JsonBenchmark.serializeWithGenerator", "\"size\":\"100\",\"store\":\"SQLITE\"", 110, "us/op"));
        runs.add(run("JsonBenchmark.serializeFreshSpecs", "\"size\":\"100\",\"store\":\"SQLITE\"", 48, "us/op"));
        runs.add(run("JsonBenchmark.streamingExport", "\"size\":\"1000\",\"store\":\"SQLITE\"", 1800, "us/op"));
        runs.add(run("JsonBenchmark.streamVisit", "\"size\":\"1000\",\"store\":\"SQLITE\"", 1400, "us/op"));
        runs.add(run("LifecycleBenchmark.create", "", 2, "ms/op"));
        runs.add(run("LifecycleBenchmark.rawQemuImgCreate", "", 6, "ms/op"));
        runs.add(run("BatchBenchmark.createAll", "\"size\":\"1000\",\"target\":\"SQLITE_NORMAL\"", createAll, "ms/op"));
        runs.add(run("BatchBenchmark.createOneByOne", "\"size\":\"1000\",\"target\":\"SQLITE_NORMAL\"", createOneByOne, "ms/op"));
        runs.add(run("GetBenchmark.cacheHit", "\"size\":\"1000\",\"store\":\"SQLITE\"", 30, "ns/op"));
        runs.add(run("GetBenchmark.storePointRead", "\"size\":\"1000\",\"store\":\"SQLITE\"", 14000, "ns/op"));
        runs.add(run("QmpBenchmark.persistentClient", "", 700, "us/op"));
        runs.add(run("QmpBenchmark.rawSocketLoop", "", 450, "us/op"));
        runs.add(run("QmpBenchmark.connectionPerCommand", "", 3000, "us/op"));
        runs.add(run("LifecycleBenchmark.start", "", start, "ms/op"));
        runs.add(run("LifecycleBenchmark.rawSpawnToQmpReady", "", spawn, "ms/op"));
        runs.add(run("LifecycleBenchmark.forcedStop", "", forcedStop, "ms/op"));
        runs.add(run("LifecycleBenchmark.rawQuit", "", quit, "ms/op"));
        runs.add(run("DensityBenchmark.startAll", "\"vms\":\"100\"", 5200, "ms/op"));
        runs.add(run("DensityBenchmark.rawSpawns", "\"vms\":\"100\"", 5000, "ms/op"));
        runs.add(run("ClonesBenchmark.linkedClone", "", 2, "ms/op"));
        runs.add(run("ClonesBenchmark.rawOverlay", "", 12, "ms/op"));
        Path file = dir.resolve(name + ".json");
        Files.writeString(file, "[" + String.join(",", runs) + "]");
        return Results.read(file);
    }

    private static String run(String benchmark, String params, double median, String unit) {
        return String.format(Locale.ROOT, "{\"benchmark\":\"io.horcrux.bench.%s\",\"params\":{%s},\"primaryMetric\":"
                + "{\"score\":%f,\"scoreError\":0,\"scorePercentiles\":{\"50.0\":%f},\"scoreUnit\":\"%s\"}}",
                benchmark, params, median, median, unit);
    }

    @Test
    void theSameFiguresPass() throws IOException {
        Results baseline = results("baseline", 36, 236, 158, 137, 17, 11);
        assertThat(Suite.check(baseline, baseline)).isTrue();
    }

    @Test
    void noiseWithinTwiceTheBaselinePasses() throws IOException {
        Results baseline = results("baseline", 36, 236, 158, 137, 17, 11);
        Results noisy = results("noisy", 60, 236, 250, 140, 25, 12);
        assertThat(Suite.check(noisy, baseline)).isTrue();
    }

    @Test
    void batchesThatStopBatchingFail() throws IOException {
        Results baseline = results("baseline", 36, 236, 158, 137, 17, 11);
        Results regressed = results("regressed", 200, 236, 158, 137, 17, 11);
        assertThat(Suite.check(regressed, baseline)).isFalse();
    }

    @Test
    void aListingFarAboveRawJdbcFails() throws IOException {
        Results baseline = results("baseline", 36, 236, 158, 137, 17, 11);
        assertThat(Suite.check(results("noisy", 36, 236, 158, 137, 17, 11, 2000), baseline)).isTrue();
        assertThat(Suite.check(results("regressed", 36, 236, 158, 137, 17, 11, 6000), baseline)).isFalse();
    }

    @Test
    void aStartGrosslySlowerThanRawQemuFails() throws IOException {
        Results baseline = results("baseline", 36, 236, 158, 137, 17, 11);
        Results regressed = results("regressed", 36, 236, 400, 137, 17, 11);
        assertThat(Suite.check(regressed, baseline)).isFalse();
    }

    @Test
    void aForcedStopFarAboveRawQuitFails() throws IOException {
        Results baseline = results("baseline", 36, 236, 158, 137, 17, 11);
        assertThat(Suite.check(results("small-floor", 36, 236, 158, 137, 15, 4), baseline)).isTrue();
        assertThat(Suite.check(results("regressed", 36, 236, 158, 137, 45, 11), baseline)).isFalse();
    }

    @Test
    void aBenchmarkThatDidNotRunFails() throws IOException {
        Results baseline = results("baseline", 36, 236, 158, 137, 17, 11);
        Path partial = dir.resolve("partial.json");
        Files.writeString(partial, "[" + run("GetBenchmark.cacheHit", "\"size\":\"1000\",\"store\":\"SQLITE\"", 30, "ns/op") + "]");
        assertThat(Suite.check(Results.read(partial), baseline)).isFalse();
    }

    @Test
    void aRunUnderAnotherHypervisorIsJudgedByTheGoalsNotByABaselineItCannotBeComparedTo() throws IOException {
        // A baseline whose start took twice the raw spawn: like with like, 3x would pass (limit 4x).
        Results baseline = results("baseline", 36, 236, 274, 137, 17, 11);
        Results now = results("now", 36, 236, 411, 137, 17, 11);
        Hypervisor tcg = new Hypervisor("TCG", "max");
        Hypervisor kvm = new Hypervisor("KVM", "host");
        assertThat(Suite.check(now, baseline, java.util.Optional.of(tcg), java.util.Optional.of(tcg))).isTrue();
        // Under another hypervisor the goal (<= 1.25, failing above twice that) decides.
        assertThat(Suite.check(now, baseline, java.util.Optional.of(kvm), java.util.Optional.of(tcg))).isFalse();
        Results good = results("good", 36, 236, 150, 137, 17, 11);
        assertThat(Suite.check(good, baseline, java.util.Optional.of(kvm), java.util.Optional.of(tcg))).isTrue();
    }

    @Test
    void theMachineFileSitsBesideTheResults() {
        assertThat(Suite.machineFile(Path.of("baselines/quick.json"))).isEqualTo(Path.of("baselines/quick-machine.json"));
    }

    @Test
    void theCheckedInBaselinesSayWhichHypervisorTheyRanUnder() throws IOException {
        for (String name : List.of("quick", "report")) {
            assertThat(Hypervisor.read(Path.of("baselines", name + "-machine.json"))).as(name).isPresent();
        }
    }
}
