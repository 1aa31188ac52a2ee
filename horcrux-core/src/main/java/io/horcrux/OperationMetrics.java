package io.horcrux;

import io.horcrux.model.CacheStats;
import java.util.function.Supplier;

/** Where the manager reports timings; a no-op unless a Micrometer registry is configured. */
interface OperationMetrics {
    OperationMetrics NONE = (operation, outcome, nanos) -> { };

    /** @param outcome {@code "success"} or the simple name of the exception thrown */
    void record(String operation, String outcome, long nanos);

    /** Lets gauges read the cache's figures; called once. */
    default void bindCache(Supplier<CacheStats> stats) {
    }

    /** Runs {@code action} and records its time under {@code operation}, with its outcome. */
    default <T> T timed(String operation, Supplier<T> action) {
        long start = System.nanoTime();
        String outcome = "success";
        try {
            return action.get();
        } catch (RuntimeException e) {
            outcome = e.getClass().getSimpleName();
            throw e;
        } finally {
            record(operation, outcome, System.nanoTime() - start);
        }
    }
}
