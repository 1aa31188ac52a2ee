package io.horcrux.qemu;

import java.time.Duration;
import java.util.Iterator;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices that QEMU processes are gone without a thread per process: one timer checks, in one
 * batch per tick, every process whose end is awaited (its monitor closed), and, less often,
 * every running process (one whose monitor stays open although it is gone). What follows runs
 * on the pool, never on the timer.
 */
final class ProcessWatch {
    private static final Logger log = LoggerFactory.getLogger(ProcessWatch.class);
    /** How often the processes whose end is awaited are checked. */
    static final Duration TICK = Duration.ofMillis(10);

    private record Awaited(QemuProcess vm, long deadline, Consumer<Boolean> then) {
    }

    private final ScheduledExecutorService timer;
    private final Executor pool;
    private final Queue<Awaited> awaited = new ConcurrentLinkedQueue<>();
    private ScheduledFuture<?> ticking; // guarded by this
    private boolean sweeping; // guarded by this
    private Duration sweepPeriod; // guarded by this
    private ProcessTable sweepTable;
    private Consumer<QemuProcess> sweepGone;

    ProcessWatch(ScheduledExecutorService timer, Executor pool) {
        this.timer = timer;
        this.pool = pool;
    }

    /**
     * Calls {@code then} on the pool with true once the process is gone (absent or a zombie), or
     * with false once {@code timeout} has passed with it still there.
     *
     * @throws RejectedExecutionException if the timer is shut down
     */
    void awaitGone(QemuProcess vm, Duration timeout, Consumer<Boolean> then) {
        awaited.add(new Awaited(vm, System.nanoTime() + timeout.toNanos(), then));
        synchronized (this) {
            if (ticking == null) {
                ticking = timer.scheduleWithFixedDelay(this::tick, 0, TICK.toNanos(), TimeUnit.NANOSECONDS);
            }
        }
    }

    /**
     * Every {@code period} while {@code table} holds processes, checks each and gives those gone
     * to {@code gone} on the pool. With none held nothing is scheduled, so the timer's thread
     * may end; the next one registered starts the checks again.
     */
    void sweepEvery(Duration period, ProcessTable table, Consumer<QemuProcess> gone) {
        synchronized (this) {
            sweepPeriod = period;
            sweepTable = table;
            sweepGone = gone;
        }
        table.onRegister(this::ensureSweeping);
        ensureSweeping();
    }

    private synchronized void ensureSweeping() {
        if (sweeping || sweepTable == null || sweepTable.all().isEmpty()) {
            return;
        }
        try {
            timer.schedule(this::sweep, sweepPeriod.toNanos(), TimeUnit.NANOSECONDS);
            sweeping = true;
        } catch (RejectedExecutionException e) {
            log.debug("the process check is not started: the driver closes");
        }
    }

    private void sweep() {
        try {
            for (QemuProcess vm : sweepTable.all()) {
                if (vm.isSupervised() && vm.isGone()) {
                    hand(() -> sweepGone.accept(vm));
                }
            }
        } catch (RuntimeException e) {
            log.warn("the check of the QEMU processes failed", e);
        }
        synchronized (this) {
            sweeping = false;
            ensureSweeping();
        }
    }

    private void tick() {
        try {
            long now = System.nanoTime();
            for (Iterator<Awaited> it = awaited.iterator(); it.hasNext(); ) {
                Awaited a = it.next();
                boolean gone = a.vm().isGone();
                if (gone || now - a.deadline() >= 0) {
                    it.remove();
                    hand(() -> a.then().accept(gone));
                }
            }
        } catch (RuntimeException e) {
            log.warn("the check of exiting QEMU processes failed", e);
        }
        synchronized (this) {
            if (awaited.isEmpty() && ticking != null) {
                ticking.cancel(false);
                ticking = null;
            }
        }
        // One added after the check above and before the cancel finds ticking null and starts it again.
    }

    private void hand(Runnable task) {
        try {
            pool.execute(task);
        } catch (RejectedExecutionException e) {
            log.debug("a process check's result while the driver closes");
        }
    }
}
