package io.horcrux.qemu;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks one at a time, in the order given, on threads of a shared pool: the events of one
 * VM are handled in order without a thread of their own, and a slow one (a QMP command it
 * sends) never holds up the monitor's reader or another VM's events. A VM with many events
 * queued (a guest resetting in a loop) runs {@value #BATCH} of them and then goes to the back of
 * the pool's queue, so the other VMs' events are not starved.
 */
final class SerialExecutor implements Executor {
    private static final Logger log = LoggerFactory.getLogger(SerialExecutor.class);
    /** The most tasks run in one turn on a pool thread before the others get it. */
    static final int BATCH = 64;

    private final Executor pool;
    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private boolean draining;

    SerialExecutor(Executor pool) {
        this.pool = pool;
    }

    /** Queues the task; a pool that refuses it (it is shut down) throws as it does. */
    @Override
    public void execute(Runnable task) {
        synchronized (tasks) {
            tasks.add(task);
            if (draining) {
                return;
            }
            draining = true;
        }
        try {
            pool.execute(this::drain);
        } catch (RuntimeException e) {
            synchronized (tasks) {
                tasks.clear();
                draining = false;
            }
            throw e;
        }
    }

    private void drain() {
        for (int run = 0; ; run++) {
            Runnable task;
            synchronized (tasks) {
                task = tasks.poll();
                if (task == null) {
                    draining = false;
                    return;
                }
            }
            if (run == BATCH) {
                synchronized (tasks) {
                    tasks.addFirst(task);
                }
                try {
                    pool.execute(this::drain); // still draining: the rest run after the others' turn
                } catch (RuntimeException e) {
                    synchronized (tasks) {
                        tasks.clear();
                        draining = false;
                    }
                }
                return;
            }
            try {
                task.run();
            } catch (RuntimeException e) {
                log.warn("an event task failed", e);
            }
        }
    }
}
