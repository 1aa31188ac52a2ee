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
}
