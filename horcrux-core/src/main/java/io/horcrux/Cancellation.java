package io.horcrux;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.LoggerFactory;

/**
 * A way to cancel long work from another thread: the caller makes one, passes it with the
 * work ({@link VmManager#create(io.horcrux.model.VmSpec, ProgressListener, Cancellation)}) and
 * may {@link #cancel()} it at any time. Work that notices throws an
 * {@link OperationCancelledException} and keeps nothing of itself.
 *
 * <pre>{@code
 * Cancellation cancellation = Cancellation.create();
 * Future<Vm> created = executor.submit(() -> vms.create(spec, listener, cancellation));
 * // ... the user pressed "cancel":
 * cancellation.cancel();     // the copy's qemu-img is ended; create throws OperationCancelledException
 * }</pre>
 *
 * <p>Once cancelled, a cancellation stays cancelled: make a new one for the next piece of work.
 * Thread-safe.
 *
 * <p>For drivers: work that cannot poll {@link #isCancelled()} (a child process, a blocking
 * call) registers what stops it with {@link #onCancel(Runnable)} and closes the registration
 * when it ends.
 */
public final class Cancellation {
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final List<Runnable> actions = new CopyOnWriteArrayList<>();

    private Cancellation() {
    }

    /** A cancellation that is not cancelled yet. */
    public static Cancellation create() {
        return new Cancellation();
    }

    /**
     * Cancels: runs every registered action once, on this thread (an action that throws is
     * logged). Idempotent: later calls do nothing.
     */
    public void cancel() {
        if (!cancelled.compareAndSet(false, true)) {
            return;
        }
        for (Runnable action : actions) {
            if (actions.remove(action)) { // whoever removes an action runs it: once
                run(action);
            }
        }
    }

    /** Whether {@link #cancel()} was called. */
    public boolean isCancelled() {
        return cancelled.get();
    }

    /**
     * Throws if cancelled.
     *
     * @param what the work, for the message, for example {@code "creating VM 'web-1'"}
     * @throws OperationCancelledException if {@link #cancel()} was called
     */
    public void throwIfCancelled(String what) {
        if (isCancelled()) {
            throw new OperationCancelledException(what + ": cancelled");
        }
    }

    /**
     * Runs {@code action} when this is cancelled, or at once (on this thread) when it is already.
     * Close the returned registration when the work the action stops has ended, so that a later
     * cancel does not run it.
     */
    public Subscription onCancel(Runnable action) {
        Objects.requireNonNull(action, "action");
        actions.add(action);
        if (cancelled.get() && actions.remove(action)) {
            run(action);
        }
        return () -> actions.remove(action);
    }

    private static void run(Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            LoggerFactory.getLogger(Cancellation.class).warn("a cancellation action failed", e);
        }
    }

    @Override
    public String toString() {
        return isCancelled() ? "Cancellation[cancelled]" : "Cancellation[not cancelled]";
    }
}
