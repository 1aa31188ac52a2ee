package io.horcrux.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The outcome of a batch operation, item by item: a failed item never hides the results of
 * the others.
 *
 * @param <T> what a successful item yields
 */
public final class BatchResult<T> {
    private final List<T> succeeded;
    private final Map<String, RuntimeException> failed;

    public BatchResult(List<T> succeeded, Map<String, RuntimeException> failed) {
        this.succeeded = List.copyOf(succeeded);
        this.failed = Collections.unmodifiableMap(new LinkedHashMap<>(failed));
    }

    /** What the successful items yielded, in the order they were requested. */
    public List<T> succeeded() {
        return succeeded;
    }

    /** The failed items: id to the exception, in the order they were requested. */
    public Map<String, RuntimeException> failed() {
        return failed;
    }

    /** Whether no item failed. */
    public boolean allSucceeded() {
        return failed.isEmpty();
    }

    @Override
    public String toString() {
        return "BatchResult[" + succeeded.size() + " succeeded, failed=" + failed.keySet() + "]";
    }
}
