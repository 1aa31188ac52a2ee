package io.horcrux.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.style.Styler;

/**
 * Writes {@code REPORT.md} and its charts from checked-in JMH results: per row of the seed's
 * latency table, the seed's target and claimed figure against ours, then the optimisations the
 * seed names, each as a ratio measured in one run.
 *
 * <p>Usage: {@code Report BASELINE_DIR REPORT.md}; reads every {@code *.json} JMH result in the
 * directory (files ending in {@code -machine.json} describe the machine).
 */
public final class Report {

    /** A row of the seed's table: its target and claimed figure in milliseconds, and our benchmark. */
    record SeedRow(String operation, double targetMs, String claimed, String benchmark) {
    }

    static final List<SeedRow> SEED = List.of(
            new SeedRow("List VMs (10)", 5, "~2ms", "ListBenchmark.all size=10 store=SQLITE"),
            new SeedRow("List VMs (100)", 20, "~15ms", "ListBenchmark.all size=100 store=SQLITE"),
            new SeedRow("List VMs (1000)", 100, "~80ms", "ListBenchmark.all size=1000 store=SQLITE"),
            new SeedRow("Get VM by ID", 2, "~1ms", "GetBenchmark.cacheHit size=1000 store=SQLITE"),
            new SeedRow("Create VM", 500, "depends on storage", "LifecycleBenchmark.create"),
            new SeedRow("Start VM", 1000, "depends on VM size", "LifecycleBenchmark.start"),
            new SeedRow("Stop VM", 3000, "depends on shutdown method", "LifecycleBenchmark.forcedStop"),
            new SeedRow("Database Query", 5, "~2ms", "GetBenchmark.storePointRead size=1000 store=SQLITE"),
            new SeedRow("JSON Serialization (100 VMs)", 10, "~5ms", "JsonBenchmark.serialize size=100 store=SQLITE"));

    /** An operation measured on both sides of the peer comparison. */
    record PeerRow(String operation, String ours, String libvirt, String goal) {
    }

    static final List<PeerRow> PEER = List.of(
            new PeerRow("list 1000 with state", "PeerBenchmark.horcruxList", "PeerBenchmark.libvirtList", ""),
            new PeerRow("look up one with info", "PeerBenchmark.horcruxLookup", "PeerBenchmark.libvirtLookup", ""),
            new PeerRow("start to running", "PeerBenchmark.horcruxStart", "PeerBenchmark.libvirtStart", ">= 5x"),
            new PeerRow("forced stop / destroy", "PeerBenchmark.horcruxForcedStop",
                    "PeerBenchmark.libvirtDestroy", ">= 5x"),
            new PeerRow("destroy, prompt reaper",
                    "PeerBenchmark.horcruxForcedStop", "PeerBenchmark.libvirtDestroySubreaper", ""));

    /** The figures {@code QemuDensityIT} printed, kept beside the JMH results. */
    static final String DENSITY_FIGURES = "density-it.properties";

    private Report() {
    }

    public static void main(String[] args) throws IOException {
        System.setProperty("java.awt.headless", "true"); // charts are drawn off screen
        Path dir = Path.of(args.length > 0 ? args[0] : "horcrux-bench/baselines");
        Path report = Path.of(args.length > 1 ? args[1] : "horcrux-bench/REPORT.md");
        Results results = Results.empty();
        java.util.Map<String, JsonNode> machines = new java.util.TreeMap<>();
        try (var files = Files.list(dir)) {
            // quick.json first: a dedicated run (report.json, density.json) is read after it and wins.
            for (Path file : files.sorted(java.util.Comparator.comparing((Path f) -> !f.getFileName().toString()
                    .equals("quick.json")).thenComparing(java.util.Comparator.naturalOrder())).toList()) {
                String name = file.getFileName().toString();
                if (name.endsWith("-machine.json")) {
                    machines.put(name.substring(0, name.length() - "-machine.json".length()),
                            new ObjectMapper().readTree(file.toFile()));
                } else if (name.endsWith(".json")) {
                    results = results.merge(Results.read(file));
                }
            }
        }
        java.util.Properties density = new java.util.Properties();
        Path densityFigures = dir.resolve(DENSITY_FIGURES);
        if (Files.exists(densityFigures)) {
            try (var in = Files.newBufferedReader(densityFigures)) {
                density.load(in);
            }
        }
        Files.writeString(report, render(results, machines, report.getParent(), density));
        System.out.println("wrote " + report);
    }

    static String render(Results results, java.util.Map<String, JsonNode> machines, Path chartDir) throws IOException {
        return render(results, machines, chartDir, new java.util.Properties());
    }

    /** As above, with the figures of the 200-VM test ({@value #DENSITY_FIGURES}) when there are any. */
    static String render(Results results, java.util.Map<String, JsonNode> machines, Path chartDir,
                         java.util.Properties density) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("# Horcrux benchmark report\n\n");
        md.append("Generated by `io.horcrux.bench.Report` from the JMH results in `baselines/`: `report.json` (a full "
                + "run of the suite with `-prof gc`), `quick.json` (the subset CI checks against), `peer*.json` "
                + "(the libvirt-java comparison), and dedicated runs that win over both (`density.json`, "
                + "`serialization.json`: `Suite serialization`, the JSON and streaming benchmarks with `-prof gc`, ...). ");
        md.append("Ours is the median of the measured iterations (error: JMH's 99.9% interval of the mean). ");
        md.append("The ratio is the seed's target over ours: how many times faster than the target we are.\n\n");
        md.append("## Machine\n\n");
        for (var entry : machines.entrySet()) {
            JsonNode m = entry.getValue();
            md.append(String.format(Locale.ROOT, "- `%s.json`: %s, %d cores, %d GiB, %s, %s, guests under %s%s (measured %s)%n",
                    entry.getKey(), m.path("cpu").asText(), m.path("cores").asInt(), m.path("memoryGiB").asInt(),
                    m.path("kernel").asText(), m.path("jdk").asText(), m.path("accelerator").asText(),
                    m.hasNonNull("cpuModel") ? " -cpu " + m.path("cpuModel").asText() : "", m.path("date").asText()));
        }
        md.append("\n## The seed's latency table\n\n");
        md.append("| operation | seed target | seed claimed | ours (median) | error | target / ours |\n");
        md.append("|---|---:|---:|---:|---:|---:|\n");
        List<String> labels = new ArrayList<>();
        List<Double> targets = new ArrayList<>();
        List<Double> ours = new ArrayList<>();
        for (SeedRow row : SEED) {
            Optional<Results.Score> score = results.get(row.benchmark());
            if (score.isPresent()) {
                double ms = score.get().medianNanos() / 1e6;
                md.append(String.format(Locale.ROOT, "| %s | < %s | %s | %s | ± %s | %s |%n", row.operation(),
                        millis(row.targetMs()), row.claimed(), millis(ms), millis(score.get().errorNanos() / 1e6),
                        times(row.targetMs() / ms)));
                labels.add(row.operation());
                targets.add(row.targetMs());
                ours.add(ms);
            } else {
                md.append(String.format(Locale.ROOT, "| %s | < %s | %s | not measured | | |%n", row.operation(),
                        millis(row.targetMs()), row.claimed()));
            }
        }
        if (!labels.isEmpty()) {
            String chart = "seed-latency";
            saveBarChart(chartDir.resolve(chart), "Seed targets against Horcrux (ms, log scale)", labels,
                    "seed target", targets, "Horcrux", ours);
            md.append("\n![Seed targets against Horcrux](").append(chart).append(".png)\n");
        }
        md.append("\n## The seed's optimisations, measured\n\n");
        md.append("| ratio (lower is better) | measured | goal | met |\n|---|---:|---:|---|\n");
        for (Suite.Ratio r : Suite.RATIOS) {
            double value = Suite.ratio(results, r);
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s |%n", r.name(),
                    Double.isNaN(value) ? "not measured" : String.format(Locale.ROOT, "%.3f", value), r.goal(),
                    Double.isNaN(value) ? "" : r.goalMet(results) ? "yes" : "**no**"));
        }
        Suite.Ratio qmp = Suite.RATIOS.stream().filter(r -> r.denominator().equals("QmpBenchmark.rawSocketLoop"))
                .findFirst().orElseThrow();
        if (!Double.isNaN(Suite.ratio(results, qmp)) && !qmp.goalMet(results)) {
            md.append("\n**Missed: QMP round trip within 1.15x of a bare socket.** QEMU reads its monitor about one "
                    + "byte per turn of its main loop, so a round trip grows with every byte of the command (about "
                    + "12 µs a byte on the reference machine). The client sends a command that is alone in flight "
                    + "byte for byte as the bare loop does, without an `id`; what is left is its reader thread "
                    + "handing the reply to the caller.\n");
        }
        renderPostgres(md, results);
        renderHosts(md, results);
        renderDensity(md, results, density);
        renderProbe(md, results);
        renderGuest(md, results, chartDir);
        renderImages(md, results, chartDir);
        SnapshotFigures.render(md, results);
        renderClones(md, results);
        renderPeer(md, results, chartDir);
        renderAllocation(md, results);
        renderHotPaths(md, results);
        md.append("\n## Every result\n\n| benchmark | median | error |\n|---|---:|---:|\n");
        results.all().forEach((key, score) -> {
            if (score.isTime()) {
                md.append(String.format(Locale.ROOT, "| `%s` | %s | ± %s |%n", key,
                        millis(score.medianNanos() / 1e6), millis(score.errorNanos() / 1e6)));
            } else if (key.contains("gc.alloc.rate.norm")) {
                md.append(String.format(Locale.ROOT, "| `%s` | %,.0f %s | |%n", key, score.value(), score.unit()));
            }
        });
        return md.toString();
    }

    /** The PostgreSQL store against raw pgjdbc on the same rows ({@code Suite postgres}). */
    private static void renderPostgres(StringBuilder md, Results results) {
        if (Suite.POSTGRES_RATIOS.stream().allMatch(r -> Double.isNaN(Suite.ratio(results, r)))) {
            return;
        }
        md.append("\n## The PostgreSQL store against raw pgjdbc\n\n");
        md.append("From `postgres.json` (`Suite postgres`: the reads in paired rounds, the median round kept).\n\n");
        md.append("| ratio (lower is better) | store | raw pgjdbc | ratio | goal | met |\n|---|---:|---:|---:|---:|---|\n");
        for (Suite.Ratio r : Suite.POSTGRES_RATIOS) {
            double value = Suite.ratio(results, r);
            if (Double.isNaN(value)) {
                md.append(String.format(Locale.ROOT, "| %s | not measured | | | %s | |%n", r.name(), r.goal()));
                continue;
            }
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.3f | %s | %s |%n", r.name(),
                    millis(Suite.nanos(results, r.numerator()) / 1e6), millis(Suite.nanos(results, r.denominator()) / 1e6),
                    value, r.goal(), r.goal().equals("report") ? "" : r.goalMet(results) ? "yes" : "**no**"));
        }
    }

    /** Several hosts: the cost of fencing and events on a batch, and a takeover against its bound. */
    private static void renderHosts(StringBuilder md, Results results) {
        Optional<Results.Score> takeover = results.get("HostsBenchmark.takeoverAfterHostDies");
        double shared = Suite.ratio(results, Suite.HOSTS_RATIOS.get(0));
        if (takeover.isEmpty() && Double.isNaN(shared)) {
            return;
        }
        md.append("\n## Several hosts on one PostgreSQL inventory\n\n");
        md.append("From `hosts.json` (`Suite hosts`).\n\n| measure | measured | against | ratio | goal | met |\n");
        md.append("|---|---:|---:|---:|---:|---|\n");
        if (!Double.isNaN(shared)) {
            Results.Score ours = results.get("HostsBenchmark.createAll1000Shared").orElseThrow();
            Results.Score raw = results.get("HostsBenchmark.rawInsert1000").orElseThrow();
            md.append(String.format(Locale.ROOT, "| createAll 1000, shared store (fenced, events) vs raw batch insert "
                    + "| %s | %s | %.2fx | report | |%n", millis(ours.medianNanos() / 1e6), millis(raw.medianNanos() / 1e6),
                    shared));
        }
        takeover.ifPresent(t -> {
            double boundMs = HostsBenchmark.TAKEOVER_BOUND.toMillis();
            double ms = t.medianNanos() / 1e6;
            md.append(String.format(Locale.ROOT, "| takeover of %d VMs after their host dies (TTL %d ms, grace %d ms,"
                    + " heartbeat %d ms) vs the bound TTL + grace + heartbeat | %s | %s | %.2f | <= 1 | %s |%n",
                    HostsBenchmark.DEAD_VMS, HostsBenchmark.TTL.toMillis(), HostsBenchmark.GRACE.toMillis(),
                    HostsBenchmark.RENEWAL.toMillis(), millis(ms), millis(boundMs), ms / boundMs,
                    ms <= boundMs ? "yes" : "**no**"));
        });
    }

    /** Bytes allocated per visit of 100,000 VMs: the stream's point is bounded memory. */
    private static void renderAllocation(StringBuilder md, Results results) {
        md.append("\n## Streaming 100,000 VMs: time and allocation\n\n");
        md.append("From `serialization.json` where it has them (`Suite serialization`), else `report.json`.\n\n");
        md.append("| store | way | time (median) | allocated per visit | per VM |\n|---|---|---:|---:|---:|\n");
        for (String store : List.of("SQLITE", "IN_MEMORY")) {
            for (String way : List.of("stream", "loadAllThenVisit", "pages")) {
                String key = "StreamBenchmark." + way + " size=100000 store=" + store;
                Optional<Results.Score> time = results.get(key);
                Optional<Results.Score> bytes = results.all().entrySet().stream()
                        .filter(e -> e.getKey().startsWith("StreamBenchmark." + way + ":")
                                && e.getKey().contains("gc.alloc.rate.norm") && e.getKey().endsWith("store=" + store))
                        .map(java.util.Map.Entry::getValue).findFirst();
                if (time.isPresent()) {
                    md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", store, way,
                            millis(time.get().medianNanos() / 1e6),
                            bytes.map(b -> String.format(Locale.ROOT, "%,.0f MB", b.value() / 1e6)).orElse("not measured"),
                            bytes.map(b -> String.format(Locale.ROOT, "%,.0f B", b.value() / 100_000)).orElse("")));
                }
            }
        }
        md.append("\nThe stream holds one page of rows at a time whatever the inventory's size (a 48 MB heap "
                + "streams 100,000 VMs in `StreamHeapIT`); loading them all holds every VM at once. The goal for "
                + "the SQLite stream is under 1 KB per VM. Its 100,000 specs are all different, more than the "
                + "store's memo of decoded specs keeps, so each row's spec is decoded. What a row costs is then "
                + "what the VM keeps: the stored bytes as the driver hands them over (some 300), the spec's own "
                + "objects (its strings, two one-element lists, its labels in one sorted array) and the `Vm`; "
                + "reading and checking a stored spec makes nothing it does not keep. A stream of 1,000 whose "
                + "specs the memo knows allocates about half a kilobyte per VM (`ListingFloorBenchmark`).\n");
    }

    /** A hot path next to its floor: the benchmark keys, how many VMs one call handles, and the goal. */
    record HotPath(String what, String ours, String floor, int vms, String goal, double goalRatio, double goalMs) {
    }

    static final List<HotPath> HOT_PATHS = List.of(
            new HotPath("list 1000, manager with its cache (SQLite)", "ListingFloorBenchmark.list size=1000",
                    "ListingFloorBenchmark.rawList size=1000", 1000, "<= 1.5x", 1.5, Double.NaN),
            new HotPath("list 1000, manager without a cache", "ListingFloorBenchmark.listUncached size=1000",
                    "ListingFloorBenchmark.rawList size=1000", 1000, "<= 1.5x", 1.5, Double.NaN),
            new HotPath("stream 1000, manager with its cache", "ListingFloorBenchmark.stream size=1000",
                    "ListingFloorBenchmark.rawList size=1000", 1000, "<= 1.5x", 1.5, Double.NaN),
            new HotPath("stream 1000, manager without a cache", "ListingFloorBenchmark.streamUncached size=1000",
                    "ListingFloorBenchmark.rawList size=1000", 1000, "<= 1.5x", 1.5, Double.NaN),
            new HotPath("get by id, manager without a cache", "ListingFloorBenchmark.getUncached size=1000",
                    "ListingFloorBenchmark.rawGet size=1000", 1, "<= 1.5x", 1.5, Double.NaN),
            new HotPath("JSON of 100 VMs (floor: Jackson's generator, a call per field)",
                    "JsonBenchmark.serialize size=100 store=SQLITE",
                    "JsonBenchmark.serializeWithGenerator size=100 store=SQLITE", 100, "< 50 µs", Double.NaN, 0.050),
            new HotPath("JSON of 100 VMs whose specs were never written before (same floor)",
                    "JsonBenchmark.serializeFreshSpecs size=100 store=SQLITE",
                    "JsonBenchmark.serializeWithGenerator size=100 store=SQLITE", 100, "< 50 µs", Double.NaN, 0.050),
            new HotPath("export 1000 VMs (floor: the stream it reads)", "JsonBenchmark.streamingExport size=1000 store=SQLITE",
                    "JsonBenchmark.streamVisit size=1000 store=SQLITE", 1000, "<= 1.1x", 1.1, Double.NaN),
            new HotPath("export 1000 VMs (floor: raw sqlite-jdbc reading the same rows)",
                    "JsonBenchmark.streamingExport size=1000 store=SQLITE", "ListingFloorBenchmark.rawList size=1000", 1000,
                    "<= 1x", 1.0, Double.NaN),
            new HotPath("create with a 64 MiB qcow2 disk (floor: qemu-img create by hand)", "LifecycleBenchmark.create",
                    "LifecycleBenchmark.rawQemuImgCreate", 1, "< 10 ms", Double.NaN, 10));

    /** The listing, JSON and create paths against their floors, measured in one run, with bytes allocated per VM. */
    private static void renderHotPaths(StringBuilder md, Results results) {
        if (HOT_PATHS.stream().allMatch(h -> results.get(h.ours()).isEmpty())) {
            return;
        }
        md.append("\n## Hot paths against their floors\n\n");
        md.append("Each row's two sides are measured in one run (`ListingFloorBenchmark`, `JsonBenchmark`, "
                + "`LifecycleBenchmark`). The listing floor is raw sqlite-jdbc on the same database file reading the "
                + "same rows into the same `Vm`s, its spec column decoded with Jackson's streaming parser into the "
                + "model's builders; it keeps nothing between calls, while the store decodes each distinct stored "
                + "spec once (its `SpecMemo`). JSON of VMs written before copies each spec's text (`EncodedSpecs`, by the "
                + "spec object); the row of fresh specs writes every field (its allocation includes the copies of the specs made before each call, outside its time). Allocation is JMH's `gc.alloc.rate.norm` "
                + "divided by the VMs a call handles.\n\n");
        md.append("| what | Horcrux | floor | ratio | goal | met | allocated per VM: Horcrux | floor |\n");
        md.append("|---|---:|---:|---:|---:|---|---:|---:|\n");
        for (HotPath h : HOT_PATHS) {
            Optional<Results.Score> us = results.get(h.ours());
            Optional<Results.Score> floor = results.get(h.floor());
            if (us.isEmpty() || floor.isEmpty()) {
                md.append("| ").append(h.what()).append(" | not measured | | | ").append(h.goal()).append(" | | | |\n");
                continue;
            }
            double usMs = us.get().medianNanos() / 1e6;
            double floorMs = floor.get().medianNanos() / 1e6;
            double ratio = usMs / floorMs;
            boolean met = Double.isNaN(h.goalRatio()) ? usMs < h.goalMs() : ratio <= h.goalRatio();
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.3f | %s | %s | %s | %s |%n", h.what(), millis(usMs),
                    millis(floorMs), ratio, h.goal(), met ? "yes" : "**no**", perVm(results, h.ours(), h.vms()),
                    perVm(results, h.floor(), h.vms())));
        }
    }

    /** {@code gc.alloc.rate.norm} of a benchmark key divided by its VMs, or "" when not profiled. */
    private static String perVm(Results results, String key, int vms) {
        int space = key.indexOf(' ');
        String allocKey = space < 0 ? key + ":gc.alloc.rate.norm" : key.substring(0, space) + ":gc.alloc.rate.norm"
                + key.substring(space);
        return results.get(allocKey).map(b -> String.format(Locale.ROOT, "%,.0f B", b.value() / vms)).orElse("");
    }

    private static void renderPeer(StringBuilder md, Results results, Path chartDir) throws IOException {
        md.append("\n## Side by side with libvirt-java\n\n");
        md.append("The same operations through Horcrux and through libvirt-java 0.5.4 against libvirtd on the same "
                + "machine, in one JMH run (`peer/run-libvirt-peer.sh`). libvirt's destroy is measured as libvirtd "
                + "runs (orphaned QEMUs reaped by PID 1, late in this container) and, as \"prompt reaper\", with "
                + "libvirtd under `tini -s`.\n\n");
        md.append("| operation | Horcrux | libvirt-java | libvirt / Horcrux | goal | met |\n|---|---:|---:|---:|---:|---|\n");
        List<String> labels = new ArrayList<>();
        List<Double> ours = new ArrayList<>();
        List<Double> theirs = new ArrayList<>();
        for (PeerRow row : PEER) {
            Optional<Results.Score> us = results.get(row.ours());
            Optional<Results.Score> them = results.get(row.libvirt());
            if (us.isEmpty() || them.isEmpty()) {
                md.append(String.format(Locale.ROOT, "| %s | %s | %s | | %s | |%n", row.operation(),
                        us.map(x -> millis(x.medianNanos() / 1e6)).orElse("not measured"),
                        them.map(x -> millis(x.medianNanos() / 1e6)).orElse("not measured"), row.goal()));
                continue;
            }
            double usMs = us.get().medianNanos() / 1e6;
            double themMs = them.get().medianNanos() / 1e6;
            String met = row.goal().isEmpty() ? "" : themMs / usMs >= 5 ? "yes" : "**no**";
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1fx | %s | %s |%n", row.operation(), millis(usMs),
                    millis(themMs), themMs / usMs, row.goal(), met));
            labels.add(row.operation());
            ours.add(usMs);
            theirs.add(themMs);
        }
        if (!labels.isEmpty()) {
            saveBarChart(chartDir.resolve("peer"), "Horcrux against libvirt-java (ms, log scale)", labels,
                    "libvirt-java", theirs, "Horcrux", ours);
            md.append("\n![Horcrux against libvirt-java](peer.png)\n");
        }
    }

    /**
     * Two series of bars per label on a log axis, written as {@code file.png}. The axis starts a
     * decade below the smallest value: bars otherwise start at zero, which a log axis lacks.
     */
    private static void saveBarChart(Path file, String title, List<String> labels, String firstName,
                                     List<Double> first, String secondName, List<Double> second) throws IOException {
        CategoryChart c = new CategoryChartBuilder().width(900).height(480).title(title).yAxisTitle("milliseconds").build();
        double min = java.util.stream.Stream.concat(first.stream(), second.stream())
                .mapToDouble(Double::doubleValue).min().orElse(1);
        c.getStyler().setYAxisLogarithmic(true);
        c.getStyler().setYAxisMin(Math.pow(10, Math.floor(Math.log10(min))));
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        c.getStyler().setXAxisLabelRotation(20);
        c.addSeries(firstName, labels, first);
        c.addSeries(secondName, labels, second);
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static String millis(double ms) {
        if (ms >= 1) {
            return String.format(Locale.ROOT, "%.2f ms", ms);
        }
        if (ms >= 0.001) {
            return String.format(Locale.ROOT, "%.2f µs", ms * 1e3);
        }
        return String.format(Locale.ROOT, "%.0f ns", ms * 1e6);
    }

    private static String times(double ratio) {
        return String.format(Locale.ROOT, "%,.0fx", ratio);
    }

    /**
     * Many VMs at once: {@code startAll} of 100 against raw spawns (from {@code density.json}),
     * and the threads and heap of {@code QemuDensityIT}'s 200 VMs, as it printed them.
     */
    private static void renderDensity(StringBuilder md, Results results, java.util.Properties it) {
        Optional<Results.Score> all = results.get("DensityBenchmark.startAll vms=100");
        Optional<Results.Score> raw = results.get("DensityBenchmark.rawSpawns vms=100");
        if (all.isEmpty() && it.isEmpty()) {
            return;
        }
        md.append("\n## Hundreds of VMs\n\n");
        md.append("Every running VM's QMP monitor and serial console are served by one selector thread of the driver; "
                + "exits are noticed by the monitor's end of file and one timer's batched process check; events run on "
                + "a pool of at most four threads. The guests are microvm with 16 MiB and nothing to boot.\n\n");
        if (all.isPresent() && raw.isPresent()) {
            md.append("| what | Horcrux | raw QEMU | measured | goal | met |\n|---|---:|---:|---:|---:|---|\n");
            for (int vms : new int[] {100, 200}) {
                Optional<Results.Score> ours = results.get("DensityBenchmark.startAll vms=" + vms);
                Optional<Results.Score> floor = results.get("DensityBenchmark.rawSpawns vms=" + vms);
                if (ours.isEmpty() || floor.isEmpty()) {
                    continue;
                }
                double ratio = ours.get().medianNanos() / floor.get().medianNanos();
                md.append(String.format(Locale.ROOT, "| start %d VMs (`startAll`; raw: %d spawns to QMP ready, same "
                                + "parallelism) | %s | %s | %.3fx | %s | %s |%n", vms, vms,
                        millis(ours.get().medianNanos() / 1e6), millis(floor.get().medianNanos() / 1e6), ratio,
                        vms == 100 ? "within 1.2x" : "", vms == 100 ? (ratio <= 1.2 ? "yes" : "**no**") : ""));
            }
        }
        if (!it.isEmpty()) {
            int vms = Integer.parseInt(it.getProperty("vms"));
            int before = Integer.parseInt(it.getProperty("threadsBeforeAnyStart"));
            int none = Integer.parseInt(it.getProperty("threadsNoneRunning"));
            int running = Integer.parseInt(it.getProperty("threadsAllRunning"));
            long perVm = Long.parseLong(it.getProperty("heapBytesPerVm"));
            md.append(String.format(Locale.ROOT, "%n`QemuDensityIT` (%s, %s), %d VMs started in one `startAll`, each paused "
                            + "and resumed, some killed, the rest stopped in one `stopAll`:%n%n", it.getProperty("accelerator"),
                    it.getProperty("date"), vms));
            md.append("| figure | measured | goal | met |\n|---|---:|---:|---|\n");
            md.append(String.format(Locale.ROOT, "| JVM threads, %d VMs running, beyond none running | %+d (%d against %d) "
                    + "| under 10 | %s |%n", vms, running - none, running, none, running - none < 10 ? "yes" : "**no**"));
            md.append(String.format(Locale.ROOT, "| JVM threads, %d VMs running, beyond before any start | %+d (%d against %d) "
                    + "| under 10 | %s |%n", vms, running - before, running, before, running - before < 10 ? "yes" : "**no**"));
            md.append(String.format(Locale.ROOT, "| manager heap per running VM (after GC) | %,d bytes | under 64 KiB | %s |%n",
                    perVm, perVm < 64 << 10 ? "yes" : "**no**"));
        }
    }

    /** The accelerator probe's cost, from {@code probe.json}: what a driver's first build on a host pays. */
    private static void renderProbe(StringBuilder md, Results results) {
        List<String[]> rows = List.of(
                new String[] {"automatic probe, first build on this host", "automaticProbe"},
                new String[] {"one QEMU run of the payload under TCG (the floor)", "oneCandidateUnderTcg"},
                new String[] {"a build with the answer kept", "buildWithTheAnswerKept"});
        if (results.get("ProbeBenchmark.automaticProbe machine=Q35").isEmpty()) {
            return;
        }
        md.append("\n## The accelerator probe\n\n");
        md.append("A driver's `build()` runs guest code under each candidate accelerator and CPU model until one works "
                + "(see the README); the answer is kept per host and QEMU binary. On the reference machine `/dev/kvm` "
                + "opens but its nested KVM runs no guest code, so the first build tries `host` and `max` (refused at "
                + "once), `qemu64` (KVM internal error after SeaBIOS), then TCG.\n\n");
        md.append("| what | Q35 | microvm |\n|---|---:|---:|\n");
        for (String[] row : rows) {
            md.append("| ").append(row[0]);
            for (String machine : List.of("Q35", "MICROVM")) {
                Optional<Results.Score> score = results.get("ProbeBenchmark." + row[1] + " machine=" + machine);
                md.append(" | ").append(score.map(s -> millis(s.medianNanos() / 1e6)).orElse("not measured"));
            }
            md.append(" |\n");
        }
    }

    /** Disks from images through Horcrux and by hand, from {@code images.json}: an overlay's create, a copy's throughput. */
    private static void renderImages(StringBuilder md, Results results, Path chartDir) throws IOException {
        Optional<Results.Score> overlay = results.get("ImagesBenchmark.overlayCreate");
        Optional<Results.Score> unseen = results.get("ImagesBenchmark.overlayCreateFirstOfItsBase");
        Optional<Results.Score> rawOverlay = results.get("ImagesBenchmark.rawOverlayCreate");
        Optional<Results.Score> copy = results.get("ImagesBenchmark.copyCreate");
        Optional<Results.Score> rawCopy = results.get("ImagesBenchmark.rawConvert");
        if (overlay.isEmpty() || rawOverlay.isEmpty() || copy.isEmpty() || rawCopy.isEmpty()) {
            return;
        }
        double overlayMs = overlay.get().medianNanos() / 1e6;
        double rawOverlayMs = rawOverlay.get().medianNanos() / 1e6;
        double copyMs = copy.get().medianNanos() / 1e6;
        double rawCopyMs = rawCopy.get().medianNanos() / 1e6;
        double mib = ImagesBenchmark.COPY_BYTES / (1024.0 * 1024);
        md.append("\n## Disks from images\n\n");
        md.append("Through Horcrux (SQLite inventory, QEMU driver) and by hand with `qemu-img` on the same files, in one run "
                + "(`ImagesBenchmark`): `VmManager.create` of a VM whose disk is an overlay on a 1 GiB qcow2 base, "
                + "against `qemu-img create -f qcow2 -b <base> -F qcow2`; and of a VM whose disk is a full qcow2 copy of "
                + "a " + Math.round(mib) + " MiB raw image of random bytes, with a progress listener, against "
                + "`qemu-img convert -f raw -O qcow2`. The first create on a base the driver has not seen also runs "
                + "`qemu-img info --backing-chain` on it (then the answer is kept until the file changes).\n\n");
        md.append("| what | Horcrux | by hand | measured | goal | met |\n|---|---:|---:|---:|---:|---|\n");
        double overlayRatio = overlayMs / rawOverlayMs;
        md.append(String.format(Locale.ROOT, "| create with an overlay disk | %s | %s | %.2fx | within 1.5x | %s |%n",
                millis(overlayMs), millis(rawOverlayMs), overlayRatio, overlayRatio <= 1.5 ? "yes" : "**no**"));
        unseen.ifPresent(u -> md.append(String.format(Locale.ROOT,
                "| the same, first VM on its base | %s | %s | %.2fx | report | |%n", millis(u.medianNanos() / 1e6),
                millis(rawOverlayMs), u.medianNanos() / 1e6 / rawOverlayMs)));
        double throughput = rawCopyMs / copyMs;
        md.append(String.format(Locale.ROOT, "| full copy's throughput | %.0f MiB/s | %.0f MiB/s | %.2fx | at least 0.9x | %s |%n",
                mib / (copyMs / 1e3), mib / (rawCopyMs / 1e3), throughput, throughput >= 0.9 ? "yes" : "**no**"));
        String chart = "images";
        saveBarChart(chartDir.resolve(chart), "Disks from images: Horcrux against qemu-img by hand (ms, log scale)",
                List.of("create with an overlay", "full copy (" + Math.round(mib) + " MiB)"), "Horcrux",
                List.of(overlayMs, copyMs), "qemu-img by hand", List.of(rawOverlayMs, rawCopyMs));
        md.append("\n![Disks from images](").append(chart).append(".png)\n");
    }

    /** Clones of a template through Horcrux and by hand, from {@code clones.json}: a linked clone's time, a full one's throughput. */
    private static void renderClones(StringBuilder md, Results results) {
        Optional<Results.Score> linked = results.get("ClonesBenchmark.linkedClone");
        Optional<Results.Score> rawOverlay = results.get("ClonesBenchmark.rawOverlay");
        Optional<Results.Score> full = results.get("ClonesBenchmark.fullClone");
        Optional<Results.Score> rawConvert = results.get("ClonesBenchmark.rawConvert");
        if (linked.isEmpty() || rawOverlay.isEmpty() || full.isEmpty() || rawConvert.isEmpty()) {
            return;
        }
        double linkedMs = linked.get().medianNanos() / 1e6;
        double rawOverlayMs = rawOverlay.get().medianNanos() / 1e6;
        double fullMs = full.get().medianNanos() / 1e6;
        double rawConvertMs = rawConvert.get().medianNanos() / 1e6;
        double mib = ClonesBenchmark.TEMPLATE_MIB;
        md.append("\n## Templates and clones\n\n");
        md.append("Through Horcrux (SQLite inventory, QEMU driver) and by hand with `qemu-img` on the template's own "
                + "image, in one run (`ClonesBenchmark`): `VmManager.clone(template, id, LINKED)` against `qemu-img create "
                + "-f qcow2 -b <template's image> -F qcow2`, and `clone(template, id, FULL)` with a progress listener "
                + "against `qemu-img convert -f qcow2 -O qcow2`, of a template whose disk holds " + Math.round(mib)
                + " MiB of random bytes.\n\n");
        md.append("| what | Horcrux | by hand | measured | goal | met |\n|---|---:|---:|---:|---:|---|\n");
        md.append(String.format(Locale.ROOT, "| linked clone | %s | %s | %.2fx | under 20 ms | %s |%n", millis(linkedMs),
                millis(rawOverlayMs), linkedMs / rawOverlayMs, linkedMs < 20 ? "yes" : "**no**"));
        double throughput = rawConvertMs / fullMs;
        md.append(String.format(Locale.ROOT, "| full clone's throughput | %.0f MiB/s | %.0f MiB/s | %.2fx | at least 0.9x | %s |%n",
                mib / (fullMs / 1e3), mib / (rawConvertMs / 1e3), throughput, throughput >= 0.9 ? "yes" : "**no**"));
    }

    /** The test guest through Horcrux and by hand, from {@code guest.json}: boot to readiness and a graceful stop. */
    private static void renderGuest(StringBuilder md, Results results, Path chartDir) throws IOException {
        Optional<Results.Score> start = results.get("GuestBenchmark.startToReady");
        Optional<Results.Score> rawStart = results.get("GuestBenchmark.rawStartToReady");
        Optional<Results.Score> stop = results.get("GuestBenchmark.gracefulStop");
        Optional<Results.Score> rawStop = results.get("GuestBenchmark.rawPowerdownToExit");
        if (start.isEmpty() || rawStart.isEmpty() || stop.isEmpty() || rawStop.isEmpty()) {
            return;
        }
        double startMs = start.get().medianNanos() / 1e6;
        double rawStartMs = rawStart.get().medianNanos() / 1e6;
        double stopMs = stop.get().medianNanos() / 1e6;
        double rawStopMs = rawStop.get().medianNanos() / 1e6;
        md.append("\n## A real guest\n\n");
        md.append("The test guest (Debian's cloud kernel, a busybox initramfs) on q35, through Horcrux and by hand in one "
                + "run (`GuestBenchmark`): start to its readiness line on the serial console (raw: QEMU with "
                + "`-serial stdio`), and a graceful stop of the booted guest (raw: `system_powerdown` over a bare QMP "
                + "socket to QEMU's exit).\n\n");
        md.append("| what | Horcrux | raw QEMU | measured | goal | met |\n|---|---:|---:|---:|---:|---|\n");
        double ratio = startMs / rawStartMs;
        md.append(String.format(Locale.ROOT, "| start to readiness line | %s | %s | %.3fx | within 10 %% | %s |%n",
                millis(startMs), millis(rawStartMs), ratio, ratio <= 1.10 ? "yes" : "**no**"));
        double difference = stopMs - rawStopMs;
        md.append(String.format(Locale.ROOT, "| graceful stop (the guest powers off) | %s | %s | %+.1f ms | within 10 ms | %s |%n",
                millis(stopMs), millis(rawStopMs), difference, difference <= 10 ? "yes" : "**no**"));
        String chart = "guest";
        saveBarChart(chartDir.resolve(chart), "A real guest: Horcrux against raw QEMU (ms, log scale)",
                List.of("start to readiness", "graceful stop"), "Horcrux", List.of(startMs, stopMs),
                "raw QEMU", List.of(rawStartMs, rawStopMs));
        md.append("\n![A real guest](").append(chart).append(".png)\n");
    }
}
