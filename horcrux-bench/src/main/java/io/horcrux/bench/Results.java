package io.horcrux.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * JMH's JSON results read back: one score per benchmark and parameter set, keyed as
 * {@code "GetBenchmark.cacheHit store=SQLITE size=1000"} (the package left out, parameters sorted).
 */
final class Results {
    /** A measured score with its error and unit. */
    record Score(double value, double error, double median, String unit) {
        /** Whether the unit is a time per operation (not, for example, bytes per operation). */
        boolean isTime() {
            return unit.equals("ns/op") || unit.equals("us/op") || unit.equals("ms/op") || unit.equals("s/op");
        }

        /** The score in nanoseconds, whatever JMH's time unit. */
        double nanos() {
            return value * nanosPer(unit);
        }

        double medianNanos() {
            return (Double.isNaN(median) ? value : median) * nanosPer(unit);
        }

        double errorNanos() {
            return Double.isNaN(error) ? 0 : error * nanosPer(unit);
        }

        private static double nanosPer(String unit) {
            return switch (unit) {
                case "ns/op" -> 1;
                case "us/op" -> 1e3;
                case "ms/op" -> 1e6;
                case "s/op" -> 1e9;
                default -> throw new IllegalArgumentException("not a time per operation: " + unit);
            };
        }
    }

    private final Map<String, Score> scores;

    private Results(Map<String, Score> scores) {
        this.scores = scores;
    }

    static Results read(Path jmhJson) throws IOException {
        JsonNode root = new ObjectMapper().readTree(jmhJson.toFile());
        Map<String, Score> scores = new LinkedHashMap<>();
        for (JsonNode run : root) {
            String benchmark = run.path("benchmark").asText();
            String shortName = benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1);
            Map<String, String> params = new TreeMap<>();
            run.path("params").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
            JsonNode metric = run.path("primaryMetric");
            scores.put(key(shortName, params), score(metric));
            // Group benchmarks report each member as a secondary metric.
            run.path("secondaryMetrics").fields().forEachRemaining(e -> {
                JsonNode m = e.getValue();
                if (m.path("scoreUnit").asText().endsWith("/op")) {
                    scores.put(key(shortName + ":" + e.getKey(), params), score(m));
                }
            });
        }
        return new Results(scores);
    }

    private static Score score(JsonNode metric) {
        return new Score(metric.path("score").asDouble(), metric.path("scoreError").asDouble(Double.NaN),
                metric.path("scorePercentiles").path("50.0").asDouble(Double.NaN), metric.path("scoreUnit").asText());
    }

    /** Both result sets in one; where both measured a key, {@code other} wins. */
    Results merge(Results other) {
        Map<String, Score> merged = new LinkedHashMap<>(scores);
        merged.putAll(other.scores);
        return new Results(merged);
    }

    static Results empty() {
        return new Results(new LinkedHashMap<>());
    }

    static String key(String benchmark, Map<String, String> params) {
        StringBuilder sb = new StringBuilder(benchmark);
        new TreeMap<>(params).forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
        return sb.toString();
    }

    Optional<Score> get(String key) {
        return Optional.ofNullable(scores.get(key));
    }

    Map<String, Score> all() {
        return scores;
    }
}
