package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.horcrux.DriverException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The QMP client against a fault-injecting server: every misbehaviour is a clear error and no thread hangs. */
class QmpClientTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private Path dir;
    private FakeQmpServer server;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "qmp-test");
    }

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            server.close();
        }
        Files.deleteIfExists(dir.resolve("qmp.sock"));
        Files.deleteIfExists(dir);
    }

    private QmpClient connect(FakeQmpServer.Script script) throws Exception {
        server = new FakeQmpServer(dir.resolve("qmp.sock"), script);
        return QmpClient.connect(server.socket(), TIMEOUT);
    }

    @Test
    void negotiatesCapabilitiesAndSendsACommandAloneWithoutAnId() throws Exception {
        try (QmpClient client = connect((c, conn) -> conn.reply(c, "{\"status\": \"running\", \"running\": true}"))) {
            assertThat(client.greeting().path("version").path("qemu").path("major").asInt()).isEqualTo(7);
            JsonNode reply = client.execute("query-status");
            assertThat(reply.path("status").asText()).isEqualTo("running");
            client.execute("query-status");
            // The bytes of a bare socket loop: QEMU reads its monitor a byte at a time, so each one counts.
            assertThat(server.received()).containsExactly("{\"execute\":\"qmp_capabilities\"}",
                    "{\"execute\":\"query-status\"}", "{\"execute\":\"query-status\"}");
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void commandsSentWhileOthersAreOutstandingCarryUniqueNumericIds() throws Exception {
        List<FakeQmpServer.Command> held = new ArrayList<>();
        try (QmpClient client = connect((c, conn) -> {
            // Nothing is answered until all three have arrived, so the last two are sent while the first is owed.
            held.add(c);
            if (held.size() == 3) {
                held.forEach(h -> conn.reply(h, "{\"echo\": \"" + h.execute() + "\"}"));
            }
        })) {
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                Future<JsonNode> first = pool.submit(() -> client.execute("first"));
                QemuItSupport.await("the first command at the server", Duration.ofSeconds(10),
                        () -> server.received().size() == 2);
                Future<JsonNode> second = pool.submit(() -> client.execute("second"));
                Future<JsonNode> third = pool.submit(() -> client.execute("third"));
                assertThat(first.get(10, TimeUnit.SECONDS).path("echo").asText()).isEqualTo("first");
                assertThat(second.get(10, TimeUnit.SECONDS).path("echo").asText()).isEqualTo("second");
                assertThat(third.get(10, TimeUnit.SECONDS).path("echo").asText()).isEqualTo("third");
            } finally {
                pool.shutdownNow();
            }
            List<String> lines = server.received();
            assertThat(lines.get(1)).isEqualTo("{\"execute\":\"first\"}");
            assertThat(lines.subList(2, 4)).allMatch(l -> l.matches("\\{\"execute\":\"(second|third)\",\"id\":[0-9]+}"))
                    .extracting(l -> l.replaceAll(".*\"id\":([0-9]+).*", "$1")).doesNotHaveDuplicates();
        }
    }

    @Test
    void sendsArgumentsAsJson() throws Exception {
        try (QmpClient client = connect((c, conn) -> conn.reply(c, "{}"))) {
            client.execute("human-monitor-command", Map.of("command-line", "info status, \"x\""));
            assertThat(server.received().get(1))
                    .contains("\"arguments\":{\"command-line\":\"info status, \\\"x\\\"\"}");
        }
    }

    @Test
    void eventsInterleavedWithRepliesAreDeliveredInOrderAndNeverTakenForReplies() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        try (QmpClient client = connect((c, conn) -> {
            conn.event("STOP");
            conn.send("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESET\", \"data\": {\"guest\": false, \"reason\": \"host-qmp-system-reset\"}, \"id\": 1}\n");
            conn.reply(c, "{\"answer\": \"" + c.execute() + "\"}");
            conn.event("RESUME");
        })) {
            client.addEventListener(e -> events.add(e.name() + ":" + e.data().path("reason").asText("")));
            assertThat(client.execute("first").path("answer").asText()).isEqualTo("first");
            assertThat(client.execute("second").path("answer").asText()).isEqualTo("second");
            client.execute("third");
        }
        assertThat(events).startsWith("STOP:", "RESET:host-qmp-system-reset", "RESUME:", "STOP:", "RESET:host-qmp-system-reset");
    }

    @Test
    void aQmpErrorCarriesQemusClassAndDescription() throws Exception {
        try (QmpClient client = connect((c, conn) -> conn.send("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\"}" + c.idMember() + "}\n"))) {
            assertThatThrownBy(() -> client.execute("nope"))
                    .isInstanceOfSatisfying(QmpException.class, e -> {
                        assertThat(e.errorClass()).isEqualTo("CommandNotFound");
                        assertThat(e.description()).isEqualTo("The command nope has not been found");
                        assertThat(e.command()).isEqualTo("nope");
                    })
                    .isInstanceOf(DriverException.class);
            assertThat(client.isOpen()).isTrue();
        }
    }

    @Test
    void garbageFromTheServerFailsTheWaitingCommandAndClosesTheConnection() throws Exception {
        try (QmpClient client = connect((c, conn) -> conn.send("this is not json }{\n"))) {
            assertThatThrownBy(() -> client.execute("query-status"))
                    .isInstanceOf(DriverException.class)
                    .hasMessageContaining("protocol error: not JSON")
                    .hasMessageContaining("query-status");
            assertThat(client.isOpen()).isFalse();
            assertThat(client.disconnected().toCompletableFuture().get(5, TimeUnit.SECONDS)).contains("not JSON");
            assertThatThrownBy(() -> client.execute("query-status")).isInstanceOf(DriverException.class)
                    .hasMessageContaining("connection closed");
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void invalidUtf8IsAProtocolError() throws Exception {
        try (QmpClient client = connect((c, conn) -> {
            conn.sendBytes(("{\"return\": \"").getBytes(StandardCharsets.UTF_8));
            conn.sendBytes(new byte[] {(byte) 0xC3, (byte) 0x28});
            conn.send("\"" + c.idMember() + "}\n");
        })) {
            assertThatThrownBy(() -> client.execute("query-status")).isInstanceOf(DriverException.class)
                    .hasMessageContaining("protocol error");
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void aServerThatNeverAnswersTimesOutAndTheConnectionStaysUsable() throws Exception {
        List<FakeQmpServer.Command> seen = new CopyOnWriteArrayList<>();
        try (QmpClient client = connect((c, conn) -> {
            seen.add(c);
            if (c.execute().equals("answered")) {
                conn.reply(c, "{}");
            }
        })) {
            assertThatThrownBy(() -> client.execute("silent", Map.of(), Duration.ofMillis(200)))
                    .isInstanceOf(DriverException.class)
                    .hasMessageContaining("no reply to 'silent' within 200 ms");
            assertThat(client.execute("answered").isObject()).isTrue();
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void aServerThatNeverGreetsFailsTheConnect() throws Exception {
        server = new FakeQmpServer(dir.resolve("qmp.sock"), "", (c, conn) -> { });
        assertThatThrownBy(() -> QmpClient.connect(server.socket(), Duration.ofMillis(300)))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("no greeting");
        assertNoReaderThreadLeft();
    }

    @Test
    void theNegotiationIsSentWithoutWaitingForTheGreeting() throws Exception {
        // A server that greets only once it has read the client's first line: a client that waited
        // for the greeting before negotiating would wait for it in vain.
        Path socket = dir.resolve("qmp.sock");
        List<String> firstLine = new CopyOnWriteArrayList<>();
        try (java.nio.channels.ServerSocketChannel listener = java.nio.channels.ServerSocketChannel.open(
                java.net.StandardProtocolFamily.UNIX)) {
            listener.bind(java.net.UnixDomainSocketAddress.of(socket));
            Thread peer = new Thread(() -> {
                try (java.nio.channels.SocketChannel c = listener.accept()) {
                    java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                            java.nio.channels.Channels.newInputStream(c), StandardCharsets.UTF_8));
                    firstLine.add(in.readLine());
                    c.write(java.nio.ByteBuffer.wrap((FakeQmpServer.GREETING + "{\"return\": {}}\n")
                            .getBytes(StandardCharsets.UTF_8)));
                    in.readLine(); // until the client closes
                } catch (java.io.IOException e) {
                    // the client went away
                }
            }, "greets-late");
            peer.start();
            try (QmpClient client = QmpClient.connect(socket, TIMEOUT)) {
                assertThat(firstLine).containsExactly("{\"execute\":\"qmp_capabilities\"}");
                assertThat(client.greeting().path("version").path("qemu").path("major").asInt()).isEqualTo(7);
                assertThat(client.isOpen()).isTrue();
            }
            peer.join(TimeUnit.SECONDS.toMillis(5));
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void aReplyBeforeTheGreetingIsAProtocolError() throws Exception {
        server = new FakeQmpServer(dir.resolve("qmp.sock"), "", (c, conn) -> { }); // answers the negotiation ungreeted
        assertThatThrownBy(() -> QmpClient.connect(server.socket(), TIMEOUT))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("protocol error: no greeting");
        assertNoReaderThreadLeft();
    }

    @Test
    void aServerThatDropsTheConnectionMidReplyFailsTheCommandAtOnce() throws Exception {
        try (QmpClient client = connect((c, conn) -> {
            conn.send("{\"return\": {\"status\": \"runn");
            conn.drop();
        })) {
            assertThatThrownBy(() -> client.execute("query-status", Map.of(), Duration.ofSeconds(30)))
                    .isInstanceOf(DriverException.class)
                    .hasMessageContaining("connection lost")
                    .hasMessageContaining("in the middle of a message");
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void anOversizedLineIsRefused() throws Exception {
        server = new FakeQmpServer(dir.resolve("qmp.sock"), (c, conn) -> {
            byte[] big = new byte[64 * 1024];
            java.util.Arrays.fill(big, (byte) 'a');
            conn.send("{\"return\": \"");
            conn.sendBytes(big);
        });
        try (QmpClient client = QmpClient.connect(server.socket(), TIMEOUT, "big", null, 16 * 1024, () -> false)) {
            assertThatThrownBy(() -> client.execute("query-status")).isInstanceOf(DriverException.class)
                    .hasMessageContaining("longer than 16384 bytes");
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void aReplyWithAnIdThisClientDidNotSendIsDroppedNotDeliveredToAnotherCaller() throws Exception {
        try (QmpClient client = connect((c, conn) -> {
            conn.send("{\"return\": {\"wrong\": true}, \"id\": \"someone-else\"}\n");
            conn.send("{\"return\": {\"wrong\": true}, \"id\": 987654}\n");
            conn.send("{\"return\": {\"wrong\": true}, \"id\": null}\n");
            conn.reply(c, "{\"right\": true}");
        })) {
            assertThat(client.execute("query-status").path("right").asBoolean()).isTrue();
        }
    }

    @Test
    void aReplyWithoutAnIdWhenNoneIsExpectedIsDropped() throws Exception {
        try (QmpClient client = connect((c, conn) -> {
            conn.reply(c, "{\"n\": \"" + c.execute() + "\"}");
            if (c.execute().equals("first")) {
                conn.send("{\"return\": {\"n\": \"unsolicited\"}}\n");
                conn.event("MARK");
            }
        })) {
            CountDownLatch marked = new CountDownLatch(1);
            client.addEventListener(e -> marked.countDown());
            assertThat(client.execute("first").path("n").asText()).isEqualTo("first");
            // Lines are handled in order: once MARK is in, the unsolicited reply has been handled too.
            assertThat(marked.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(client.execute("second").path("n").asText()).isEqualTo("second");
        }
    }

    @Test
    void aLateReplyToACommandThatTimedOutNeverAnswersALaterCommand() throws Exception {
        try (QmpClient client = connect((c, conn) -> {
            if (c.execute().equals("next")) {
                conn.send("{\"return\": {\"n\": \"slow\"}}\n"); // QEMU answers in order: slow first
                conn.reply(c, "{\"n\": \"next\"}");
            }
        })) {
            assertThatThrownBy(() -> client.execute("slow", Map.of(), Duration.ofMillis(100)))
                    .isInstanceOf(DriverException.class).hasMessageContaining("no reply to 'slow'");
            assertThat(client.execute("next").path("n").asText()).isEqualTo("next");
            assertThat(server.received().get(2)).as("sent while slow's reply is owed").contains("\"id\":");
        }
    }

    @Test
    void concurrentCallersGetTheirOwnRepliesEvenWhenAnsweredOutOfOrder() throws Exception {
        List<FakeQmpServer.Command> held = new ArrayList<>();
        try (QmpClient client = connect((c, conn) -> {
            synchronized (held) {
                held.add(c);
                if (held.size() == 8) { // answer the batch in reverse order
                    for (int i = held.size() - 1; i >= 0; i--) {
                        conn.reply(held.get(i), "{\"echo\": \"" + held.get(i).execute() + "\"}");
                    }
                    held.clear();
                }
            }
        })) {
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<String>> results = new ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    String command = "cmd-" + i;
                    results.add(pool.submit(() -> client.execute(command).path("echo").asText()));
                }
                for (int i = 0; i < results.size(); i++) {
                    assertThat(results.get(i).get(30, TimeUnit.SECONDS)).isEqualTo("cmd-" + i);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void closeFailsWaitingCommandsAndIsIdempotent() throws Exception {
        QmpClient client = connect((c, conn) -> { });
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<?> waiting = pool.submit(() -> client.execute("silent", Map.of(), Duration.ofSeconds(60)));
            while (server.received().size() < 2) {
                Thread.sleep(5);
            }
            client.close();
            client.close();
            assertThatThrownBy(() -> waiting.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(DriverException.class)
                    .hasMessageContaining("closed by the client");
        } finally {
            pool.shutdownNow();
        }
        assertNoReaderThreadLeft();
    }

    @Test
    void aMissingSocketIsAClearError() {
        assertThatThrownBy(() -> QmpClient.connect(dir.resolve("absent.sock"), Duration.ofMillis(100)))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("did not accept a connection");
    }

    @Test
    void theWaitForASocketEndsAsSoonAsItsServerIsKnownGone() {
        // A long timeout that the test would hit if the check were ignored; no timing is asserted.
        AtomicInteger checks = new AtomicInteger();
        assertThatThrownBy(() -> QmpClient.connect(dir.resolve("absent.sock"), Duration.ofMinutes(10), "gone", null,
                QmpClient.MAX_LINE_BYTES, () -> checks.incrementAndGet() > 3))
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("QEMU exited before its socket")
                .hasMessageContaining("absent.sock");
        assertThat(checks).hasValue(4);
    }

    static void assertNoReaderThreadLeft() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<String> left;
        do {
            left = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.isAlive() && t.getName().startsWith("horcrux-qmp-")).map(Thread::getName).toList();
            if (left.isEmpty()) {
                return;
            }
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        assertThat(left).as("QMP reader threads still alive").isEmpty();
    }
}
