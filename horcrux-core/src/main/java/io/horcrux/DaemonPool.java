package io.horcrux;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The manager's thread pools: daemon threads named {@code <name>-<n>}, idle ones retired after 30 s. */
final class DaemonPool {
    private DaemonPool() {
    }

    /**
     * A pool of {@code core} to {@code max} threads; with {@code max} unbounded it hands each task
     * to a thread at once rather than queueing it.
     */
    static ExecutorService create(String name, int core, int max) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(core, max, 30, TimeUnit.SECONDS,
                max == Integer.MAX_VALUE ? new SynchronousQueue<>() : new LinkedBlockingQueue<>(),
                runnable -> {
                    Thread t = new Thread(runnable, name + "-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(core > 0);
        return pool;
    }
}
