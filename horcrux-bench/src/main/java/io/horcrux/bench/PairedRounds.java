package io.horcrux.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Ratios measured in rounds, for a machine shared with other work: JMH runs one benchmark after
 * another, so a burst of load during the numerator's minute and not the denominator's skews a
 * ratio by several times. Here each round runs the two sides of one ratio, one right after the
 * other, in short JMH trials (a fork each, 1 warm-up and 3 measured iterations of 1 s), and the
 * rounds of one ratio follow each other; the round whose ratio is the median of that ratio's
 * rounds gives both sides' scores, which are written as
 * one JMH result file like any other run (so {@link Results}, {@link Suite#printRatios} and
 * {@link Report} read it unchanged). Every round's ratio is printed, so the spread shows.
 *
 * <p>Benchmarks whose every call takes seconds ({@link DensityBenchmark}: a hundred QEMU processes
 * a call) go through {@link #alternating} instead: their rounds are shorter (one measured call a
 * side), the sides' order alternates, and the trials run in this JVM, already warm.
 */
final class PairedRounds {
    private PairedRounds() {
    }

    /**
     * Runs {@code once} (a JMH include pattern; its trials as the benchmarks declare them) a
     * single time, then the two benchmarks of each of {@code ratios} in {@code rounds} rounds, and writes
     * the trials of {@code once} and, per ratio, those of its median round to {@code out}.
     */
    static void run(Path out, String once, List<Suite.Ratio> ratios, int rounds) throws RunnerException, IOException {
        ObjectMapper json = new ObjectMapper();
        ArrayNode all = json.createArrayNode();
        Path dir = out.toAbsolutePath().getParent();
        Path first = dir.resolve(out.getFileName() + ".once");
        runWaitingForTheLock(new OptionsBuilder().include(once).resultFormat(ResultFormatType.JSON)
                .result(first.toString()).build());
        json.readTree(first.toFile()).forEach(all::add);
        Files.delete(first);

        for (Suite.Ratio r : ratios) {
            String pattern = ".*\\.(" + Pattern.quote(r.numerator()) + "|" + Pattern.quote(r.denominator()) + ")$";
            List<JsonNode> byRound = new ArrayList<>();
            List<double[]> ratioOfRound = new ArrayList<>(); // {ratio, round}
            for (int i = 0; i < rounds; i++) {
                Path round = dir.resolve(out.getFileName() + ".round");
                runWaitingForTheLock(new OptionsBuilder().include(pattern).forks(1)
                        .warmupIterations(1).warmupTime(TimeValue.seconds(1))
                        .measurementIterations(3).measurementTime(TimeValue.seconds(1))
                        .resultFormat(ResultFormatType.JSON).result(round.toString()).build());
                JsonNode trials = json.readTree(round.toFile());
                Files.delete(round);
                byRound.add(trials);
                ratioOfRound.add(new double[] {median(trials, r.numerator()) / median(trials, r.denominator()), i});
            }
            List<String> printed = ratioOfRound.stream().map(x -> String.format(Locale.ROOT, "%.3f", x[0])).toList();
            ratioOfRound.sort(Comparator.comparingDouble(x -> x[0]));
            int median = (int) ratioOfRound.get((rounds - 1) / 2)[1];
            System.out.printf(Locale.ROOT, "%s: ratio per round %s; the median round (%d) is kept%n", r.name(), printed,
                    median);
            byRound.get(median).forEach(all::add);
        }
        json.writerWithDefaultPrettyPrinter().writeValue(out.toFile(), all);
    }

    /**
     * The two sides of {@code r} (benchmarks of many seconds a call, single shots: {@link DensityBenchmark})
     * in {@code rounds} rounds run in this JVM, one short trial per side and round, the sides'
     * order alternating (numerator first in even rounds, denominator first in odd ones), so that
     * neither side is always the one measured later. A round's trial is a warm-up call and one
     * measured call; the first round's trials warm up with {@value #FIRST_WARMUPS} calls, so that
     * every measured call runs compiled code, which forked trials (each in a new JVM) would only
     * reach after a few calls of their own. The two measured calls of a round are seconds apart,
     * so a burst of load on a shared machine falls on both or, if on one, in few rounds; the
     * round whose ratio is the median is kept. Returns the median round's two trials, as JMH
     * writes them, after printing every round's ratio.
     *
     * @param r      a ratio whose numerator and denominator are benchmark keys as {@link Results} makes
     *               them: {@code "DensityBenchmark.startAll vms=100"}
     * @param rounds an odd number, so that the median is one round
     */
    static ArrayNode alternating(Path dir, Suite.Ratio r, int rounds) throws RunnerException, IOException {
        if (rounds < 1 || rounds % 2 == 0) {
            throw new IllegalArgumentException("rounds must be odd and positive, was " + rounds);
        }
        ObjectMapper json = new ObjectMapper();
        List<JsonNode[]> byRound = new ArrayList<>(); // {numerator's trial, denominator's trial}
        List<double[]> ratioOfRound = new ArrayList<>(); // {ratio, round}
        Path trialFile = dir.toAbsolutePath().resolve("alternating-trial.json");
        for (int i = 0; i < rounds; i++) {
            int warmups = i == 0 ? FIRST_WARMUPS : 1;
            JsonNode[] trials = new JsonNode[2];
            for (int k = 0; k < 2; k++) {
                int side = i % 2 == 0 ? k : 1 - k;
                trials[side] = trial(json, trialFile, side == 0 ? r.numerator() : r.denominator(), warmups);
            }
            byRound.add(trials);
            double ratio = score(trials[0]) / score(trials[1]);
            ratioOfRound.add(new double[] {ratio, i});
            System.out.printf(Locale.ROOT, "%s, round %d of %d (%s first): %.0f ms / %.0f ms = %.3f%n", r.name(), i + 1,
                    rounds, i % 2 == 0 ? "numerator" : "denominator", score(trials[0]), score(trials[1]), ratio);
        }
        List<String> printed = ratioOfRound.stream().map(x -> String.format(Locale.ROOT, "%.3f", x[0])).toList();
        ratioOfRound.sort(Comparator.comparingDouble(x -> x[0]));
        int median = (int) ratioOfRound.get((rounds - 1) / 2)[1];
        System.out.printf(Locale.ROOT, "%s: ratio per round %s; the median round (%d) is kept%n", r.name(), printed,
                median + 1);
        ArrayNode kept = json.createArrayNode();
        kept.add(byRound.get(median)[0]);
        kept.add(byRound.get(median)[1]);
        return kept;
    }

    /** Warm-up calls of each side's trial in the first round of {@link #alternating}; the later rounds have one. */
    static final int FIRST_WARMUPS = 2;

    /** One trial, in this JVM, of the benchmark that {@code key} ({@code "Class.method p=v ..."}) names. */
    private static JsonNode trial(ObjectMapper json, Path file, String key, int warmups) throws RunnerException, IOException {
        String[] parts = key.split(" ");
        ChainedOptionsBuilder options = new OptionsBuilder().include("\\." + Pattern.quote(parts[0]) + "$")
                .forks(0).warmupIterations(warmups).measurementIterations(1)
                .resultFormat(ResultFormatType.JSON).result(file.toString());
        for (int i = 1; i < parts.length; i++) {
            String[] param = parts[i].split("=", 2);
            options.param(param[0], param[1]);
        }
        runWaitingForTheLock(options.build());
        JsonNode trials = json.readTree(file.toFile());
        Files.delete(file);
        if (trials.size() != 1) {
            throw new IllegalStateException(key + ": expected one trial, JMH ran " + trials.size());
        }
        return trials.get(0);
    }

    private static double score(JsonNode trial) {
        return trial.path("primaryMetric").path("scorePercentiles").path("50.0").asDouble(Double.NaN);
    }

    /**
     * Runs JMH; while another JMH run on the machine holds JMH's lock file, waits for it (up to
     * ten minutes) instead of failing between two rounds.
     */
    private static void runWaitingForTheLock(Options options) throws RunnerException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (true) {
            try {
                new Runner(options).run();
                return;
            } catch (RunnerException e) {
                if (String.valueOf(e.getMessage()).contains("JMH lock") && System.nanoTime() < deadline) {
                    System.out.println("another JMH run holds the lock; waiting for it");
                    try {
                        Thread.sleep(5_000);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        throw e;
                    }
                    continue;
                }
                throw e;
            }
        }
    }

    private static double median(JsonNode trials, String shortName) {
        for (JsonNode trial : trials) {
            if (shortName(trial).equals(shortName)) {
                return trial.path("primaryMetric").path("scorePercentiles").path("50.0").asDouble(Double.NaN);
            }
        }
        return Double.NaN;
    }

    /** {@code PostgresBenchmark.rawList1000}: the benchmark without its package, as {@link Results} keys it. */
    private static String shortName(JsonNode trial) {
        String benchmark = trial.path("benchmark").asText();
        return benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1);
    }
}
