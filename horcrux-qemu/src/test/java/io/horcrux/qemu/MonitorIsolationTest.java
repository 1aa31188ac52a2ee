package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input on the shared monitor loop: one VM's monitor misbehaving (flooding events, never
 * answering, never reading) never costs the other VMs' monitors their replies or their events,
 * and times out only its own commands. The misbehaving monitors are fakes: QEMU cannot be made
 * to flood or to hang on demand.
 */
class MonitorIsolationTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final int OTHERS = 3;

    @TempDir
    Path dir;
    private MonitorLoop loop;
    private final List<FakeQmpServer> servers = new ArrayList<>();
    private final List<QmpClient> clients = new ArrayList<>();

    @BeforeEach
    void openLoop() {
        loop = MonitorLoop.start("horcrux-test-loop");
    }

    @AfterEach
    void close() throws Exception {
        clients.forEach(QmpClient::close);
        for (FakeQmpServer server : servers) {
            server.close();
        }
        loop.close();
    }

    private QmpClient connect(String name, FakeQmpServer.Script script, java.util.function.Consumer<QmpEvent> listener)
            throws Exception {
        FakeQmpServer server = new FakeQmpServer(dir.resolve(name + ".sock"), script);
        servers.add(server);
        QmpClient client = QmpClient.connect(server.socket(), TIMEOUT, name, listener, QmpClient.MAX_LINE_BYTES,
                () -> false, loop);
        clients.add(client);
        return client;
    }

    /** A well-behaved monitor: each command is answered after an event that names it. */
    private static void wellBehaved(FakeQmpServer.Command c, FakeQmpServer.Connection conn) {
        conn.send("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"MARK\", \"data\": {\"n\": \""
                + c.execute() + "\"}}\n");
        conn.reply(c, "{\"echo\": \"" + c.execute() + "\"}");
    }

    @Test
    void aMonitorFloodingEventsDoesNotStarveTheOthers() throws Exception {
        AtomicLong flooded = new AtomicLong();
        AtomicInteger floodRounds = new AtomicInteger();
        StringBuilder batch = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            batch.append("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"RESET\","
                    + " \"data\": {\"guest\": true, \"reason\": \"guest-reset\"}}\n");
        }
        String resets = batch.toString();
        QmpClient flooder = connect("flood", (c, conn) -> {
            conn.reply(c, "{}");
            if (c.execute().equals("flood")) {
                while (true) { // a guest resetting in a loop, without pause, until the connection goes
                    conn.send(resets);
                    floodRounds.incrementAndGet();
                }
            }
        }, e -> flooded.incrementAndGet());
        List<List<String>> marks = new ArrayList<>();
        List<QmpClient> others = new ArrayList<>();
        for (int i = 0; i < OTHERS; i++) {
            List<String> seen = new CopyOnWriteArrayList<>();
            marks.add(seen);
            others.add(connect("other" + i, MonitorIsolationTest::wellBehaved, e -> seen.add(e.data().path("n").asText())));
        }
        flooder.execute("flood");
        QemuItSupport.await("the flood to be under way", TIMEOUT, () -> flooded.get() > 20_000);

        ExecutorService callers = Executors.newFixedThreadPool(OTHERS);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < OTHERS; i++) {
                QmpClient client = others.get(i);
                String name = "other" + i;
                done.add(callers.submit(() -> {
                    for (int n = 0; n < 200; n++) {
                        assertThat(client.execute(name + "-" + n).path("echo").asText()).isEqualTo(name + "-" + n);
                    }
                    return null;
                }));
            }
            long floodedBefore = flooded.get();
            for (Future<?> f : done) {
                f.get(2, TimeUnit.MINUTES);
            }
            // The flood went on all the while, and was still being read at the end.
            long floodedAfter = flooded.get();
            assertThat(floodedAfter).isGreaterThan(floodedBefore);
            QemuItSupport.await("more flooded events read", TIMEOUT, () -> flooded.get() > floodedAfter);
        } finally {
            callers.shutdownNow();
        }
        for (int i = 0; i < OTHERS; i++) {
            List<String> expected = new ArrayList<>();
            for (int n = 0; n < 200; n++) {
                expected.add("other" + i + "-" + n);
            }
            // Each event came before its command's reply, so all are in, in order.
            assertThat(marks.get(i)).containsExactlyElementsOf(expected);
        }
        assertThat(flooder.isOpen()).isTrue();
    }

    @Test
    void aMonitorThatStopsAnsweringTimesOutOnlyItsOwnCommands() throws Exception {
        CountDownLatch hung = new CountDownLatch(1);
        QmpClient silent = connect("silent", (c, conn) -> {
            try {
                hung.await(); // stops reading and answering, as a hung QEMU does
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, null);
        List<QmpClient> others = new ArrayList<>();
        for (int i = 0; i < OTHERS; i++) {
            others.add(connect("other" + i, MonitorIsolationTest::wellBehaved, null));
        }
        ExecutorService callers = Executors.newFixedThreadPool(12);
        try {
            // Commands pile up at the silent monitor, big enough to fill its socket: writes queue, then fail.
            String big = "x".repeat(200_000);
            List<Future<Throwable>> stuck = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                stuck.add(callers.submit(() -> {
                    try {
                        silent.execute("human-monitor-command", Map.of("command-line", big), Duration.ofSeconds(2));
                        return null;
                    } catch (RuntimeException e) {
                        return e;
                    }
                }));
            }
            for (QmpClient other : others) {
                for (int n = 0; n < 100; n++) {
                    assertThat(other.execute("q" + n).path("echo").asText()).isEqualTo("q" + n);
                }
            }
            List<String> failures = new ArrayList<>();
            for (Future<Throwable> f : stuck) {
                Throwable failure = f.get(1, TimeUnit.MINUTES);
                assertThat(failure).isInstanceOf(DriverException.class)
                        .satisfiesAnyOf(e -> assertThat(e).hasMessageContaining("no reply to 'human-monitor-command'"),
                                e -> assertThat(e).hasMessageContaining("has not read"));
                failures.add(failure.getMessage());
            }
            // 2.4 MB for a monitor that reads nothing: what its socket does not take is refused, not waited on.
            assertThat(failures).anyMatch(m -> m.contains("has not read"));
            assertThatThrownBy(() -> silent.execute("query-status", Map.of(), Duration.ofMillis(300)))
                    .isInstanceOf(DriverException.class);
            for (QmpClient other : others) {
                assertThat(other.isOpen()).isTrue();
                assertThat(other.execute("after").path("echo").asText()).isEqualTo("after");
            }
        } finally {
            hung.countDown();
            callers.shutdownNow();
        }
    }

    @Test
    void aVmWithManyEventsQueuedLetsAnotherVmsEventsRunOnTheSharedPool() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            CountDownLatch held = new CountDownLatch(1);
            pool.execute(() -> {
                try {
                    held.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            SerialExecutor busy = new SerialExecutor(pool);
            SerialExecutor quiet = new SerialExecutor(pool);
            int total = 100_000;
            AtomicInteger busyRan = new AtomicInteger();
            List<Integer> order = new CopyOnWriteArrayList<>();
            for (int i = 0; i < total; i++) {
                int n = i;
                busy.execute(() -> {
                    order.add(n);
                    busyRan.incrementAndGet();
                });
            }
            CountDownLatch quietRan = new CountDownLatch(1);
            AtomicInteger busyAtQuiet = new AtomicInteger(-1);
            quiet.execute(() -> {
                busyAtQuiet.set(busyRan.get());
                quietRan.countDown();
            });
            held.countDown();
            assertThat(quietRan.await(1, TimeUnit.MINUTES)).isTrue();
            assertThat(busyAtQuiet.get()).as("the busy VM's events run when the quiet one's ran")
                    .isBetween(0, total - 1);
            QemuItSupport.await("the busy VM's events", Duration.ofMinutes(1), () -> busyRan.get() == total);
            for (int i = 0; i < total; i++) {
                assertThat(order.get(i)).isEqualTo(i);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
