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
}
