package io.horcrux;

import io.horcrux.model.VmEvent;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers events on one daemon thread. Events are published while the VM's lock is held,
 * so the queue holds each VM's events in the order they happened; one thread keeps that
 * order, and a slow listener delays other listeners but never a VM operation.
 */
final class EventDispatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventDispatcher.class);

    private final CopyOnWriteArrayList<VmEventListener> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService thread = Executors.newSingleThreadExecutor(runnable -> {
        Thread t = new Thread(runnable, "horcrux-events");
        t.setDaemon(true);
        return t;
    });

    Subscription subscribe(VmEventListener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    void publish(VmEvent event) {
        if (listeners.isEmpty()) {
            return;
        }
        try {
            thread.execute(() -> deliver(event));
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            log.debug("VM {}: {} -> {} happened after the event thread stopped; not delivered", event.vmId(),
                    event.previousStatus(), event.newStatus());
        }
    }

    private void deliver(VmEvent event) {
        for (VmEventListener listener : listeners) {
            try {
                listener.onEvent(event);
            } catch (RuntimeException e) {
                log.warn("event listener {} failed on {} -> {} of VM {}", listener, event.previousStatus(),
                        event.newStatus(), event.vmId(), e);
            }
        }
    }

    /** Delivers what is queued (for up to five seconds), then stops the thread. */
    @Override
    public void close() {
        thread.shutdown();
        try {
            if (!thread.awaitTermination(5, TimeUnit.SECONDS)) {
                log.warn("event listeners did not finish within 5 s; dropping undelivered events");
                thread.shutdownNow();
            }
        } catch (InterruptedException e) {
            thread.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
