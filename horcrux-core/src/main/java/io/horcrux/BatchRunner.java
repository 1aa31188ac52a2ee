package io.horcrux;

import io.horcrux.model.BatchResult;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/**
 * Runs one operation per id on the batch executor and reports each item's outcome. Owns the
 * default pool, and shuts it down on close; an executor the caller gave stays the caller's.
 */
final class BatchRunner implements AutoCloseable {
    private final Executor executor;
    private final ExecutorService ownedPool; // null when the caller gave the executor

    /** @param given the caller's executor, or null for a pool of {@code parallelism} threads */
    BatchRunner(Executor given, int parallelism) {
        if (given != null) {
            this.executor = given;
            this.ownedPool = null;
        } else {
            this.ownedPool = DaemonPool.create("horcrux-batch", parallelism);
            this.executor = ownedPool;
        }
    }

    /** Runs {@code operation} once per distinct id, in parallel; waits for all of them. */
    <T> BatchResult<T> run(Collection<String> ids, Function<String, T> operation) {
        LinkedHashSet<String> unique = new LinkedHashSet<>();
        for (String id : ids) {
            unique.add(Objects.requireNonNull(id, "ids must not contain null"));
        }
        Map<String, CompletableFuture<T>> futures = new LinkedHashMap<>();
        for (String id : unique) {
            CompletableFuture<T> future;
            try {
                future = CompletableFuture.supplyAsync(() -> operation.apply(id), executor);
            } catch (RejectedExecutionException e) {
                future = CompletableFuture.failedFuture(e);
            }
            futures.put(id, future);
        }
        List<T> succeeded = new ArrayList<>();
        Map<String, RuntimeException> failed = new LinkedHashMap<>();
        futures.forEach((id, future) -> {
            try {
                succeeded.add(future.join());
            } catch (CompletionException | CancellationException e) {
                Throwable cause = e.getCause() == null ? e : e.getCause();
                failed.put(id, cause instanceof RuntimeException r ? r : new HorcruxException(cause.toString(), cause));
            }
        });
        return new BatchResult<>(succeeded, failed);
    }

    @Override
    public void close() {
        if (ownedPool != null) {
            ownedPool.shutdownNow();
        }
    }
}
