package io.horcrux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CancellationTest {

    @Test
    void actionsRunOnceOnCancelAndAtOnceWhenRegisteredAfter() {
        Cancellation c = Cancellation.create();
        AtomicInteger runs = new AtomicInteger();
        c.onCancel(runs::incrementAndGet);
        Subscription closed = c.onCancel(() -> runs.addAndGet(100));
        closed.close();
        assertThat(c.isCancelled()).isFalse();
        c.throwIfCancelled("nothing");
        c.cancel();
        c.cancel();
        assertThat(runs).hasValue(1);
        c.onCancel(runs::incrementAndGet);
        assertThat(runs).as("registered after the cancel: run at once").hasValue(2);
        assertThat(c.isCancelled()).isTrue();
        assertThatThrownBy(() -> c.throwIfCancelled("copying disk 'root'")).isInstanceOf(OperationCancelledException.class)
                .isInstanceOf(HorcruxException.class).hasMessage("copying disk 'root': cancelled");
    }

    @Test
    void anActionThatThrowsDoesNotStopTheOthers() {
        Cancellation c = Cancellation.create();
        AtomicInteger runs = new AtomicInteger();
        c.onCancel(() -> {
            throw new IllegalStateException("broken action");
        });
        c.onCancel(runs::incrementAndGet);
        c.cancel();
        assertThat(runs).hasValue(1);
    }

    @Test
    void racingRegistrationsAndACancelRunEachActionExactlyOnce() throws Exception {
        for (int round = 0; round < 200; round++) {
            Cancellation c = Cancellation.create();
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch go = new CountDownLatch(1);
            Thread registering = new Thread(() -> {
                await(go);
                for (int i = 0; i < 50; i++) {
                    c.onCancel(runs::incrementAndGet);
                }
            });
            registering.start();
            go.countDown();
            c.cancel();
            registering.join();
            assertThat(runs).as("round %d", round).hasValue(50);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
