package io.horcrux;

import io.horcrux.model.Progress;

/**
 * Hears how far long work has come: the copies of {@link io.horcrux.model.DiskSpec#copyOf}
 * disks while {@link VmManager#create(io.horcrux.model.VmSpec, ProgressListener, Cancellation)}
 * makes them, say.
 *
 * <pre>{@code
 * vms.create(spec, progress -> log.info("{}: {} of disk {} at {}%", progress.vmId(),
 *         progress.task(), progress.disk(), progress.percent()), Cancellation.create());
 * }</pre>
 *
 * <p>Called on the thread doing the work, in order, while it runs: return quickly. A listener
 * that throws is logged and called again with the next event; it cannot stop the work (use a
 * {@link Cancellation} for that).
 */
@FunctionalInterface
public interface ProgressListener {
    /** A listener that ignores every event. */
    ProgressListener NONE = progress -> { };

    /** The work reached {@code progress}. */
    void onProgress(Progress progress);
}
