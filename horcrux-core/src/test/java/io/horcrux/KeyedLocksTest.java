package io.horcrux;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class KeyedLocksTest {
    private final KeyedLocks locks = new KeyedLocks();

    @Test
    void holdersOfOneKeyRunOneAtATimeAndEntriesAreDroppedAfter() throws Exception {
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 2000; i++) {
                        try (KeyedLocks.Held held = locks.lock("vm")) {
                            maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                            inside.decrementAndGet();
                        }
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(maxInside).hasValue(1);
        assertThat(locks.size()).isZero();
    }

    @Test
    void differentKeysDoNotWaitForEachOther() throws Exception {
        CountDownLatch otherAcquired = new CountDownLatch(1);
        try (KeyedLocks.Held a = locks.lock("a")) {
            Thread t = new Thread(() -> {
                try (KeyedLocks.Held b = locks.lock("b")) {
                    otherAcquired.countDown();
                }
            });
            t.start();
            assertThat(otherAcquired.await(10, TimeUnit.SECONDS)).isTrue();
            t.join();
        }
    }

    @Test
    void lockAllTakesAndReleasesEveryKey() {
        try (KeyedLocks.Held all = locks.lockAll(List.of("a", "b", "c"))) {
            assertThat(locks.size()).isEqualTo(3);
        }
        assertThat(locks.size()).isZero();
    }

    @Test
    void aFreeKeyIsTakenAtOnceAndItsHookNeverRuns() {
        AtomicInteger hooks = new AtomicInteger();
        KeyedLocks.Held held = locks.tryLockOrWhenFree("vm", hooks::incrementAndGet);
        assertThat(held).isNotNull();
        held.close();
        assertThat(hooks).hasValue(0);
        assertThat(locks.size()).isZero();
    }

    @Test
    void aHeldKeyRunsTheHookOnceWhenItsHolderReleasesIt() throws Exception {
        AtomicInteger hooks = new AtomicInteger();
        KeyedLocks.Held holder = locks.lock("vm");
        Thread other = new Thread(() -> {
            assertThat(locks.tryLockOrWhenFree("vm", hooks::incrementAndGet)).isNull();
        });
        other.start();
        other.join(60_000);
        assertThat(hooks).hasValue(0);
        holder.close();
        assertThat(hooks).hasValue(1);
        assertThat(locks.size()).isZero();
        try (KeyedLocks.Held again = locks.lock("vm")) {
            assertThat(hooks).hasValue(1); // run once, not at every later release
        }
        assertThat(hooks).hasValue(1);
    }

    @Test
    void noHookIsLostWhenTriesRaceReleases() throws Exception {
        // Every try either gets the lock or has its hook run by a release: none is left waiting.
        AtomicInteger outstanding = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<?>> futures = new java.util.ArrayList<>();
            futures.add(pool.submit(() -> {
                for (int i = 0; i < 5000; i++) {
                    try (KeyedLocks.Held held = locks.lock("vm")) {
                        Thread.onSpinWait();
                    }
                }
            }));
            for (int t = 0; t < 2; t++) {
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 5000; i++) {
                        outstanding.incrementAndGet();
                        KeyedLocks.Held held = locks.tryLockOrWhenFree("vm", outstanding::decrementAndGet);
                        if (held != null) {
                            outstanding.decrementAndGet();
                            held.close();
                        }
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(outstanding).hasValue(0);
        assertThat(locks.size()).isZero();
    }
}
