package io.horcrux;

import io.horcrux.model.CacheStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Micrometer meters of a manager. Only this class names Micrometer types, and it is loaded
 * only when a registry is configured, so Micrometer stays an optional dependency.
 */
final class MicrometerMetrics implements OperationMetrics {
    static final String OPERATION_TIMER = "horcrux.vm.operation";

    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();
    /** Held here because Micrometer holds a gauge's state weakly: the meters live as long as the manager. */
    private Supplier<CacheStats> cacheStats;

    MicrometerMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    @Override
    public void record(String operation, String outcome, long nanos) {
        timers.computeIfAbsent(operation + '\u0000' + outcome, key -> Timer.builder(OPERATION_TIMER)
                        .description("Time of VmManager operations")
                        .tag("operation", operation)
                        .tag("outcome", outcome)
                        .register(registry))
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void bindCache(Supplier<CacheStats> stats) {
        this.cacheStats = stats;
        Gauge.builder("horcrux.cache.size", stats, s -> s.get().size())
                .description("VMs held in the manager's cache").register(registry);
        FunctionCounter.builder("horcrux.cache.requests", stats, s -> s.get().hitCount())
                .tag("result", "hit").description("Cache lookups").register(registry);
        FunctionCounter.builder("horcrux.cache.requests", stats, s -> s.get().missCount())
                .tag("result", "miss").description("Cache lookups").register(registry);
    }
}
