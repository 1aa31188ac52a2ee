package io.horcrux;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The manager's thread pools: daemon threads named {@code <name>-<n>}, idle ones retired after 30 s. */
final class DaemonPool {
    private DaemonPool() {
    }

    /**
     * A pool of at most {@code threads} threads, started as tasks come and retired when idle;
     * tasks beyond them wait in an unbounded queue. Never more threads than that, whatever
     * the burst: a pool's size is a constant of the manager, not of the number of VMs.
     */
    static ExecutorService create(String name, int threads) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(),
                runnable -> {
                    Thread t = new Thread(runnable, name + "-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }
}
