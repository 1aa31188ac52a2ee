package io.horcrux.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The benchmark suite's entry points besides JMH's own {@code Main}:
 * <ul>
 *   <li>{@code quick [baseline.json]}: runs the quick subset (a few minutes; {@link DensityBenchmark}'s
 *       hundred VMs a call in {@value #QUICK_DENSITY_ROUNDS} {@linkplain PairedRounds#alternating
 *       alternating rounds} of one call a side) and fails with
 *       exit code 1 when a ratio measured in this run is grossly worse than in the baseline;</li>
 *   <li>{@code baseline DIR}: runs the quick subset and writes {@code DIR/quick.json} and
 *       {@code DIR/quick-machine.json}, the checked-in baseline;</li>
 *   <li>{@code compare RESULTS BASELINE}: the same check on two JMH result files, without running;</li>
 *   <li>{@code postgres [DIR]}: runs {@link PostgresBenchmark} (about four minutes; needs the tests'
 *       PostgreSQL server, see {@code scripts/setup-debian}), its reads against raw pgjdbc in
 *       {@value #POSTGRES_ROUNDS} {@linkplain PairedRounds paired rounds}, writes {@code DIR/postgres.json} and
 *       {@code DIR/postgres-machine.json} (default {@code horcrux-bench/target}) and prints the
 *       store-to-raw-pgjdbc ratios against their goals. Not part of {@code quick}.</li>
 *   <li>{@code hosts [DIR]}: runs {@link HostsBenchmark} (about two minutes, the same server), writes
 *       {@code DIR/hosts.json} and {@code DIR/hosts-machine.json}.</li>
 *   <li>{@code density [DIR]}: runs {@link DensityBenchmark}, 200 VMs a call with its own
 *       iterations and 100 (the ratio with a goal) in {@value #DENSITY_ROUNDS}
 *       {@linkplain PairedRounds#alternating alternating rounds} (about six minutes in all), writes
 *       {@code DIR/density.json} and {@code DIR/density-machine.json} and prints the ratios against
 *       their goals.</li>
 * </ul>
 * Ratios, not absolute times, are compared: both sides of a ratio are measured in the same
 * run on the same machine, so they survive a noisy or different machine.
 */
public final class Suite {
    /**
     * A ratio that must not grow: {@code numerator / denominator}, lower is better. Its goal is a
     * ratio ({@code goalMax}) or, where {@code goalMaxDifferenceMs} is a number, a difference.
     */
    record Ratio(String name, String numerator, String denominator, String goal, double goalMax,
                 double goalMaxDifferenceMs, boolean underQemu, double goalMaxNumeratorMs) {
        Ratio(String name, String numerator, String denominator, String goal, double goalMax) {
            this(name, numerator, denominator, goal, goalMax, Double.NaN, false);
        }

        Ratio(String name, String numerator, String denominator, String goal, double goalMax,
              double goalMaxDifferenceMs, boolean underQemu) {
            this(name, numerator, denominator, goal, goalMax, goalMaxDifferenceMs, underQemu, Double.NaN);
        }

        /** A ratio of two measurements of real QEMU: it depends on the accelerator and CPU model. */
        Ratio onQemu() {
            return new Ratio(name, numerator, denominator, goal, goalMax, goalMaxDifferenceMs, true, goalMaxNumeratorMs);
        }

        /**
         * The same ratio whose goal also bounds the numerator's own time (the "under 50 µs"):
         * met only when both hold. The check against a baseline still judges the ratio alone, since
         * an absolute time says little on another or a busier machine.
         */
        Ratio numeratorUnderMs(double ms) {
            return new Ratio(name, numerator, denominator, goal, goalMax, goalMaxDifferenceMs, underQemu, ms);
        }

        /** Whether the goal is a difference in milliseconds rather than a ratio. */
        boolean isDifference() {
            return !Double.isNaN(goalMaxDifferenceMs);
        }

        boolean goalMet(Results results) {
            // A ratio without a ratio goal (NaN) is judged by its numerator's bound alone.
            boolean met = isDifference() ? difference(results, this) <= goalMaxDifferenceMs
                    : Double.isNaN(goalMax) || ratio(results, this) <= goalMax;
            return met && (Double.isNaN(goalMaxNumeratorMs) || nanos(results, numerator) / 1e6 < goalMaxNumeratorMs);
        }
    }

    /** {@code startAll} of 100 VMs against as many raw spawns: in the quick check and in {@code density}. */
    static final Ratio DENSITY = new Ratio("startAll 100 VMs / 100 raw QEMU spawns, same parallelism",
            "DensityBenchmark.startAll vms=100", "DensityBenchmark.rawSpawns vms=100", "<= 1.2", 1.2).onQemu();

    static final List<Ratio> RATIOS = List.of(
            new Ratio("batch createAll / 1000 single creates (SQLite, NORMAL)",
                    "BatchBenchmark.createAll size=1000 target=SQLITE_NORMAL",
                    "BatchBenchmark.createOneByOne size=1000 target=SQLITE_NORMAL", "<= 0.33", 1.0 / 3),
            new Ratio("cache hit / SQLite point read",
                    "GetBenchmark.cacheHit size=1000 store=SQLITE",
                    "GetBenchmark.storePointRead size=1000 store=SQLITE", "< 1", 1.0),
            new Ratio("QMP round trip: persistent client / raw socket loop",
                    "QmpBenchmark.persistentClient", "QmpBenchmark.rawSocketLoop", "<= 1.15", 1.15).onQemu(),
            new Ratio("QMP round trip: persistent client / connection per command",
                    "QmpBenchmark.persistentClient", "QmpBenchmark.connectionPerCommand", "<= 0.5", 0.5).onQemu(),
            new Ratio("start to RUNNING / raw QEMU spawn to QMP ready",
                    "LifecycleBenchmark.start", "LifecycleBenchmark.rawSpawnToQmpReady", "<= 1.25", 1.25).onQemu(),
            new Ratio("forced stop / raw QEMU quit",
                    "LifecycleBenchmark.forcedStop", "LifecycleBenchmark.rawQuit", "raw + 10 ms", Double.NaN, 10, true),
            new Ratio("list 1000 (manager, SQLite) / raw sqlite-jdbc",
                    "ListingFloorBenchmark.list size=1000", "ListingFloorBenchmark.rawList size=1000", "<= 1.5", 1.5),
            new Ratio("stream 1000 (manager, SQLite) / raw sqlite-jdbc",
                    "ListingFloorBenchmark.stream size=1000", "ListingFloorBenchmark.rawList size=1000", "<= 1.5", 1.5),
            new Ratio("get without cache (manager, SQLite) / raw sqlite-jdbc",
                    "ListingFloorBenchmark.getUncached size=1000", "ListingFloorBenchmark.rawGet size=1000", "<= 1.5", 1.5),
            new Ratio("JSON of 100 VMs / Jackson's generator, a call per field",
                    "JsonBenchmark.serialize size=100 store=SQLITE",
                    "JsonBenchmark.serializeWithGenerator size=100 store=SQLITE", "< 50 µs, <= 0.6", 0.6)
                    .numeratorUnderMs(0.050),
            // The first write of each spec: its goal is the time alone (the ratio is only checked against the baseline).
            new Ratio("JSON of 100 VMs, specs never written / Jackson's generator",
                    "JsonBenchmark.serializeFreshSpecs size=100 store=SQLITE",
                    "JsonBenchmark.serializeWithGenerator size=100 store=SQLITE", "< 50 µs", Double.NaN)
                    .numeratorUnderMs(0.050),
            // "Export streams at the store's read speed": writing the JSON adds at most a tenth.
            new Ratio("export of 1000 VMs (SQLite) / the stream it reads",
                    "JsonBenchmark.streamingExport size=1000 store=SQLITE",
                    "JsonBenchmark.streamVisit size=1000 store=SQLITE", "<= 1.1", 1.1),
            // The same export against the store's rows read by hand: the speed of reading them at all.
            new Ratio("export of 1000 VMs (SQLite) / raw sqlite-jdbc reading the rows",
                    "JsonBenchmark.streamingExport size=1000 store=SQLITE",
                    "ListingFloorBenchmark.rawList size=1000", "<= 1", 1.0),
            new Ratio("create with a 64 MiB qcow2 disk / qemu-img create by hand",
                    "LifecycleBenchmark.create", "LifecycleBenchmark.rawQemuImgCreate", "raw + 5 ms", Double.NaN, 5, false),
            DENSITY,
            new Ratio("linked clone (manager, SQLite) / qemu-img create -b by hand",
                    "ClonesBenchmark.linkedClone", "ClonesBenchmark.rawOverlay", "<= 1", 1.0).onQemu());

    /** What {@code postgres} reports: the PostgreSQL store against raw pgjdbc on the same rows. */
    static final List<Ratio> POSTGRES_RATIOS = List.of(
            new Ratio("list 1000: PostgreSQL store / raw pgjdbc",
                    "PostgresBenchmark.storeList1000", "PostgresBenchmark.rawList1000", "<= 1.5", 1.5),
            new Ratio("point read: PostgreSQL store / raw pgjdbc",
                    "PostgresBenchmark.storePointRead", "PostgresBenchmark.rawPointRead", "<= 1.5", 1.5),
            new Ratio("createAll 1000 (manager) / raw batch insert",
                    "PostgresBenchmark.createAll1000", "PostgresBenchmark.rawInsert1000", "report", Double.MAX_VALUE));

    /** Rounds of the read ratios of {@code postgres} ({@link PairedRounds}). */
    static final int POSTGRES_ROUNDS = 9;

    /**
     * Rounds of {@link #DENSITY} in the quick check ({@link PairedRounds#alternating}): about 25 s each,
     * the first about 35 s.
     */
    static final int QUICK_DENSITY_ROUNDS = 7;

    /** Rounds of {@link #DENSITY} in {@code density}. */
    static final int DENSITY_ROUNDS = 9;

    /** What {@code density} reports: {@code startAll} of 100 VMs against raw spawns. */
    static final List<Ratio> DENSITY_RATIOS = List.of(DENSITY,
            new Ratio("startAll 200 VMs / 200 raw QEMU spawns, same parallelism",
                    "DensityBenchmark.startAll vms=200", "DensityBenchmark.rawSpawns vms=200", "report",
                    Double.MAX_VALUE).onQemu());

    /**
     * What {@code serialization} reports ({@link JsonBenchmark} and {@link StreamBenchmark} with
     * {@code -prof gc}, for {@code baselines/serialization.json}): the JSON ratios of the quick check.
     */
    static final List<Ratio> SERIALIZATION_RATIOS = RATIOS.stream()
            .filter(r -> r.numerator().startsWith("JsonBenchmark.")).toList();

    /** Several hosts on one PostgreSQL inventory ({@link HostsBenchmark}); not part of {@code quick}. */
    static final List<Ratio> HOSTS_RATIOS = List.of(
            new Ratio("createAll 1000 on a store shared by hosts (fenced, with events) / raw batch insert",
                    "HostsBenchmark.createAll1000Shared", "HostsBenchmark.rawInsert1000", "report", Double.MAX_VALUE));

    /** How much worse than the baseline a ratio may get before the check fails (see {@link #limit}). */
    static final double TOLERANCE = 2.0;

    private Suite() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length == 0 ? "quick" : args[0];
        switch (mode) {
            case "quick" -> {
                Path out = Path.of("horcrux-bench/target/quick.json");
                runQuick(out);
                writeMachine(machineFile(out));
                Path baseline = Path.of(args.length > 1 ? args[1] : "horcrux-bench/baselines/quick.json");
                System.exit(check(Results.read(out), Results.read(baseline), Hypervisor.read(machineFile(out)),
                        Hypervisor.read(machineFile(baseline))) ? 0 : 1);
            }
            case "baseline" -> {
                Path dir = Path.of(args.length > 1 ? args[1] : "horcrux-bench/baselines");
                Files.createDirectories(dir);
                runQuick(dir.resolve("quick.json"));
                writeMachine(dir.resolve("quick-machine.json"));
            }
            case "compare" -> {
                if (args.length != 3) {
                    System.err.println("usage: Suite compare results.json baseline.json");
                    System.exit(2);
                }
                Path results = Path.of(args[1]);
                Path baseline = Path.of(args[2]);
                System.exit(check(Results.read(results), Results.read(baseline), Hypervisor.read(machineFile(results)),
                        Hypervisor.read(machineFile(baseline))) ? 0 : 1);
            }
            case "postgres" -> {
                Path dir = Path.of(args.length > 1 ? args[1] : "horcrux-bench/target");
                Files.createDirectories(dir);
                Path out = dir.resolve("postgres.json");
                PairedRounds.run(out, "PostgresBenchmark\\.(createAll1000|rawInsert1000)$", POSTGRES_RATIOS.subList(0, 2),
                        POSTGRES_ROUNDS);
                writeMachine(machineFile(out));
                System.exit(printRatios(Results.read(out), POSTGRES_RATIOS) ? 0 : 1);
            }
            case "hosts" -> {
                Path dir = Path.of(args.length > 1 ? args[1] : "horcrux-bench/target");
                Files.createDirectories(dir);
                Path out = dir.resolve("hosts.json");
                new Runner(new OptionsBuilder().include("HostsBenchmark").resultFormat(ResultFormatType.JSON)
                        .result(out.toString()).build()).run();
                writeMachine(machineFile(out));
                System.exit(printRatios(Results.read(out), HOSTS_RATIOS) ? 0 : 1);
            }
            case "density" -> {
                Path dir = Path.of(args.length > 1 ? args[1] : "horcrux-bench/target");
                Files.createDirectories(dir);
                Path out = dir.resolve("density.json");
                // 200 VMs a call as the benchmark declares its trial; 100, the ratio with a goal, in rounds.
                new Runner(new OptionsBuilder().include("DensityBenchmark").param("vms", "200").resultFormat(ResultFormatType.JSON)
                        .result(out.toString()).build()).run();
                Path rounds = dir.resolve("density.json.rounds");
                new ObjectMapper().writeValue(rounds.toFile(), PairedRounds.alternating(dir, DENSITY, DENSITY_ROUNDS));
                append(out, rounds);
                Files.delete(rounds);
                writeMachine(machineFile(out));
                System.exit(printRatios(Results.read(out), DENSITY_RATIOS) ? 0 : 1);
            }
            case "serialization" -> {
                Path dir = Path.of(args.length > 1 ? args[1] : "horcrux-bench/target");
                Files.createDirectories(dir);
                Path out = dir.resolve("serialization.json");
                new Runner(new OptionsBuilder().include("JsonBenchmark").include("StreamBenchmark")
                        .include("ListingFloorBenchmark\\.rawList$")
                        .addProfiler(org.openjdk.jmh.profile.GCProfiler.class).resultFormat(ResultFormatType.JSON)
                        .result(out.toString()).build()).run();
                writeMachine(machineFile(out));
                System.exit(printRatios(Results.read(out), SERIALIZATION_RATIOS) ? 0 : 1);
            }
            default -> {
                System.err.println("usage: Suite quick [baseline.json] | baseline [dir] | compare results.json baseline.json"
                        + " | postgres [dir] | hosts [dir] | density [dir] | serialization [dir]");
                System.exit(2);
            }
        }
    }

    static void runQuick(Path out) throws RunnerException, IOException {
        Files.createDirectories(out.toAbsolutePath().getParent());
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("GetBenchmark")
                .include("BatchBenchmark")
                .include("QmpBenchmark")
                .include("LifecycleBenchmark\\.(start|forcedStop|rawSpawnToQmpReady|rawQuit|create|rawQemuImgCreate)$")
                .param("store", "SQLITE")
                .param("target", "SQLITE_NORMAL")
                .warmupIterations(2).warmupTime(TimeValue.milliseconds(500))
                .measurementIterations(5).measurementTime(TimeValue.milliseconds(500))
                .forks(1)
                .resultFormat(ResultFormatType.JSON)
                .result(out.toString());
        new Runner(options.build()).run();
        // The hot paths against their floors, in shorter iterations (each call takes microseconds
        // to milliseconds); their parameters differ, so each set runs on its own and is appended.
        List<String[]> hotPaths = List.of(
                new String[] {"ListingFloorBenchmark\\.(list|stream|getUncached|rawList|rawGet)$", "1000"},
                new String[] {"JsonBenchmark\\.(serialize|serializeFreshSpecs|serializeWithGenerator)$", "100"},
                new String[] {"JsonBenchmark\\.(streamingExport|streamVisit)$", "1000"});
        for (String[] run : hotPaths) {
            Path part = out.resolveSibling(out.getFileName() + ".part");
            new Runner(new OptionsBuilder().include(run[0]).param("store", "SQLITE").param("size", run[1])
                    .warmupIterations(3).warmupTime(TimeValue.milliseconds(500))
                    .measurementIterations(3).measurementTime(TimeValue.milliseconds(400))
                    .forks(1).resultFormat(ResultFormatType.JSON).result(part.toString()).build()).run();
            append(out, part);
            Files.delete(part);
        }
        // A hundred VMs a call, both sides in alternating rounds (the median round kept), appended likewise.
        Path density = out.resolveSibling(out.getFileName() + ".density");
        new ObjectMapper().writeValue(density.toFile(),
                PairedRounds.alternating(out.toAbsolutePath().getParent(), DENSITY, QUICK_DENSITY_ROUNDS));
        append(out, density);
        Files.delete(density);
        // A linked clone against qemu-img's overlay of the same template image: single shots, appended likewise.
        Path clones = out.resolveSibling(out.getFileName() + ".clones");
        new Runner(new OptionsBuilder().include("ClonesBenchmark\\.(linkedClone|rawOverlay)$").warmupIterations(5)
                .measurementIterations(20).forks(1).resultFormat(ResultFormatType.JSON).result(clones.toString()).build())
                .run();
        append(out, clones);
        Files.delete(clones);
    }

    /** Appends the runs of JMH result file {@code part} to those of {@code out}. */
    static void append(Path out, Path part) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ArrayNode all = (ArrayNode) json.readTree(
                out.toFile());
        json.readTree(part.toFile()).forEach(all::add);
        json.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), all);
    }

    /** The machine file beside a result file: {@code quick.json} has {@code quick-machine.json}. */
    static Path machineFile(Path results) {
        String name = results.getFileName().toString();
        return results.resolveSibling(name.substring(0, name.length() - ".json".length()) + "-machine.json");
    }

    /** {@link #check(Results, Results, Optional, Optional)} for two runs under the same hypervisor. */
    static boolean check(Results now, Results baseline) {
        return check(now, baseline, Optional.empty(), Optional.empty());
    }

    /**
     * Prints every ratio next to its baseline; false when one is grossly worse. Ratios measured on
     * real QEMU are compared with the baseline only when both runs had the same accelerator and
     * CPU model; otherwise (a baseline from a TCG machine, a run under KVM) they are judged by
     * their goal alone, failing at {@value #TOLERANCE} times it. Unknown hypervisors (older
     * machine files) count as the same.
     */
    static boolean check(Results now, Results baseline, Optional<Hypervisor> nowHypervisor,
                         Optional<Hypervisor> baselineHypervisor) {
        boolean sameHypervisor = nowHypervisor.isEmpty() || baselineHypervisor.isEmpty()
                || nowHypervisor.equals(baselineHypervisor);
        if (!sameHypervisor) {
            System.out.printf(Locale.ROOT, "%nthis run: %s; baseline: %s; QEMU ratios are judged by their goals%n",
                    nowHypervisor.get(), baselineHypervisor.get());
        }
        boolean ok = true;
        System.out.printf(Locale.ROOT, "%n%-58s %10s %10s %8s  %s%n", "ratio (lower is better)", "now", "baseline", "goal", "verdict");
        for (Ratio r : RATIOS) {
            double current = ratio(now, r);
            double before = ratio(baseline, r);
            Results against = baseline;
            double ratioLimit = limit(r, before);
            if (r.underQemu() && !sameHypervisor) {
                // Not like with like: the goal decides.
                before = Double.NaN;
                against = Results.empty();
                ratioLimit = r.goalMax() * TOLERANCE;
            }
            String verdict;
            if (Double.isNaN(current)) {
                verdict = "FAIL: not measured";
                ok = false;
            } else if (r.isDifference() && difference(now, r) > differenceLimit(r, against)) {
                verdict = String.format(Locale.ROOT, "FAIL: %.1f ms over the floor, above %.1f ms", difference(now, r),
                        differenceLimit(r, against));
                ok = false;
            } else if (!r.isDifference() && current > ratioLimit) {
                verdict = String.format(Locale.ROOT, "FAIL: above %.4f", ratioLimit);
                ok = false;
            } else {
                verdict = r.goalMet(now) ? "ok, goal met" : "ok, goal missed";
            }
            System.out.printf(Locale.ROOT, "%-58s %10.4f %10.4f %8s  %s%n", r.name(), current, before, r.goal(), verdict);
        }
        System.out.println(ok ? "baseline check: passed" : "baseline check: FAILED");
        return ok;
    }

    /** Prints each ratio with its numerator and denominator; false when one was not measured. */
    static boolean printRatios(Results results, List<Ratio> ratios) {
        boolean measured = true;
        System.out.printf(Locale.ROOT, "%n%-50s %12s %12s %8s %8s  %s%n", "ratio (lower is better)", "numerator",
                "denominator", "ratio", "goal", "verdict");
        for (Ratio r : ratios) {
            double ratio = ratio(results, r);
            measured &= !Double.isNaN(ratio);
            String verdict = Double.isNaN(ratio) ? "not measured" : r.goalMet(results) ? "goal met" : "goal missed";
            System.out.printf(Locale.ROOT, "%-50s %9.1f us %9.1f us %8.3f %8s  %s%n", r.name(),
                    nanos(results, r.numerator()) / 1e3, nanos(results, r.denominator()) / 1e3, ratio, r.goal(), verdict);
        }
        return measured;
    }

    /**
     * Where a ratio fails: {@value #TOLERANCE} times its baseline, but never below its goal, so
     * that noise on a ratio far better than its goal does not fail a build; only a gross
     * regression, or a fall below the goal that the baseline met, does.
     */
    static double limit(Ratio r, double baseline) {
        double goal = Double.isNaN(r.goalMax()) ? 0 : r.goalMax();
        return Double.isNaN(baseline) ? Double.POSITIVE_INFINITY : Math.max(baseline * TOLERANCE, goal);
    }

    /**
     * Where a difference goal fails: {@value #TOLERANCE} times the baseline's difference, but never
     * below twice the goal. A small floor (raw QEMU's quit takes about 10 ms) makes the ratio of a
     * difference goal too noisy to judge by.
     */
    static double differenceLimit(Ratio r, Results baseline) {
        double before = difference(baseline, r);
        return Math.max(Double.isNaN(before) ? 0 : before * TOLERANCE, 2 * r.goalMaxDifferenceMs());
    }

    /** Numerator minus denominator, in milliseconds. */
    static double difference(Results results, Ratio r) {
        return (nanos(results, r.numerator()) - nanos(results, r.denominator())) / 1e6;
    }

    static double ratio(Results results, Ratio r) {
        return nanos(results, r.numerator()) / nanos(results, r.denominator());
    }

    /** The median in nanoseconds, NaN when not measured. */
    static double nanos(Results results, String key) {
        return results.get(key).map(Results.Score::medianNanos).orElse(Double.NaN);
    }

    static void writeMachine(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode machine = json.createObjectNode();
        machine.put("cpu", cpuModel());
        machine.put("cores", Runtime.getRuntime().availableProcessors());
        machine.put("memoryGiB", Math.round(totalMemoryBytes() / (1024.0 * 1024 * 1024)));
        machine.put("kernel", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        machine.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        Hypervisor hypervisor = Hypervisor.probed();
        machine.put("accelerator", hypervisor.accelerator());
        machine.put("cpuModel", hypervisor.cpuModel());
        machine.put("date", java.time.LocalDate.now(java.time.ZoneOffset.UTC).toString());
        try { // the machine may be shared: how busy it was as the run ended (1-minute load average)
            machine.put("loadAverage", Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]));
        } catch (IOException | RuntimeException e) {
            // not on Linux: left out
        }
        json.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), machine);
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return System.getProperty("os.arch");
    }

    private static long totalMemoryBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through
        }
        return Runtime.getRuntime().maxMemory();
    }
}
