package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.horcrux.DriverException;
import java.io.IOException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A persistent connection to one QEMU Machine Protocol (QMP) monitor on a Unix socket.
 *
 * <p>{@link #connect(Path, Duration)} reads QEMU's greeting and negotiates capabilities;
 * then {@link #execute(String)} sends commands. Every line QEMU sends is read by a
 * {@link MonitorLoop} (a selector thread that may serve the monitors of many VMs: the driver's
 * clients share one; a client made with {@link #connect(Path, Duration)} has its own), which
 * hands each reply to the caller waiting for it and delivers asynchronous
 * {@link QmpEvent events} to the listeners: an event is never mistaken for a reply.
 *
 * <h2>Which reply is whose</h2>
 * QEMU reads its monitor about one byte per turn of its main loop, so every byte of a command
 * costs time (about 12 µs a byte on a 2-core VM under TCG; a 20-byte {@code id} adds some 40 %
 * to a {@code query-status} round trip). A command sent while no other is outstanding therefore
 * goes without an {@code id}: QEMU answers in-band commands in order and echoes an {@code id}
 * only when given one, so the next reply without an {@code id} is its reply. A command sent
 * while others are outstanding carries a numeric {@code id}, and its reply is routed by it. A
 * command that timed out keeps its claim on the reply without an {@code id} until that reply
 * comes, so a late reply never answers a later command. A reply with an {@code id} this client
 * did not send, or without one when none is expected, is dropped.
 *
 * <h2>Errors</h2>
 * <ul>
 *   <li>QEMU answers with an error: {@link QmpException} with QEMU's class and description.</li>
 *   <li>No reply within the timeout: {@link DriverException} naming the command; the connection
 *       stays usable and a late reply is dropped.</li>
 *   <li>The connection ends (QEMU exited, {@link #close()}), or the peer breaks the protocol
 *       (a line that is not a JSON object, invalid UTF-8, a line longer than
 *       {@value #MAX_LINE_BYTES} bytes): every waiting command fails at once with a
 *       {@link DriverException} saying why, the connection is closed, and
 *       {@link #disconnected()} completes with the reason.</li>
 * </ul>
 *
 * <h2>Threads</h2>
 * Thread-safe: any number of threads may execute commands at once; a command blocks its caller
 * until the loop completes its reply, or the timeout. Event listeners run on the loop's thread,
 * in the order QEMU sent the events, and must not block (they would hold up every monitor the
 * loop serves). {@link #close()} is idempotent and returns once the loop has let go of the
 * connection (and, for a client with its own loop, once that thread has ended): no listener
 * runs after it.
 */
public final class QmpClient implements AutoCloseable {
    /** The longest line accepted from QEMU, in bytes; a longer one is a protocol violation. */
    public static final int MAX_LINE_BYTES = 8 << 20;

    private static final Logger log = LoggerFactory.getLogger(QmpClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicLong CONNECTIONS = new AtomicLong();

    private final MonitorLoop.Connection channel;
    /** The loop this client started for itself and ends on close; null on a shared loop. */
    private final MonitorLoop ownLoop;
    private final String label;
    private final Duration defaultTimeout;
    private final int maxLineBytes;
    /** Commands sent with an {@code id}, waiting for their reply. */
    private final Map<Long, Pending> tagged = new ConcurrentHashMap<>();
    /** The command sent without an {@code id}, until its reply arrives (even after it timed out). */
    private final AtomicReference<Pending> untagged = new AtomicReference<>();
    private final List<Consumer<QmpEvent>> listeners = new CopyOnWriteArrayList<>();
    private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
    private final CompletableFuture<String> disconnected = new CompletableFuture<>();
    private long lastId; // guarded by writeLock
    private final Object writeLock = new Object();
    private final LineReader reader = new LineReader();
    private volatile String closedReason;

    /** A command sent: its {@code id}, null when sent without one, and its reply to come. */
    private record Pending(String command, Long id, CompletableFuture<JsonNode> reply) {
    }

    private QmpClient(SocketChannel socket, MonitorLoop loop, boolean ownLoop, String label, Duration defaultTimeout,
                      int maxLineBytes, Consumer<QmpEvent> firstListener) throws IOException {
        this.label = label;
        this.defaultTimeout = defaultTimeout;
        this.maxLineBytes = maxLineBytes;
        this.ownLoop = ownLoop ? loop : null;
        if (firstListener != null) {
            listeners.add(firstListener);
        }
        this.channel = loop.register(socket, reader);
    }

    /**
     * Connects to the QMP socket, waiting up to {@code timeout} for it to appear and for QEMU's
     * greeting, and negotiates capabilities. {@code timeout} is also the default timeout of
     * every command.
     *
     * @throws DriverException if the socket does not accept, QEMU does not greet within the
     *                         timeout, or the negotiation fails
     */
    public static QmpClient connect(Path socket, Duration timeout) {
        return connect(socket, timeout, socket.getFileName().toString(), null, MAX_LINE_BYTES, () -> false);
    }

    /**
     * As {@link #connect(Path, Duration)}, with a label for thread names and messages, a first
     * listener, and a check that ends the wait for the socket early once the process that
     * should serve it is gone.
     */
    static QmpClient connect(Path socket, Duration timeout, String label, Consumer<QmpEvent> listener,
                             int maxLineBytes, BooleanSupplier serverGone) {
        return connect(socket, timeout, label, listener, maxLineBytes, serverGone, null);
    }

    /**
     * As {@link #connect(Path, Duration, String, Consumer, int, BooleanSupplier)}, served by
     * {@code loop} (shared with other clients; not closed with this one), or by a loop of its
     * own when {@code loop} is null.
     */
    static QmpClient connect(Path socket, Duration timeout, String label, Consumer<QmpEvent> listener,
                             int maxLineBytes, BooleanSupplier serverGone, MonitorLoop loop) {
        Objects.requireNonNull(socket, "socket");
        requirePositive(timeout, "timeout");
        long deadline = System.nanoTime() + timeout.toNanos();
        SocketChannel channel = openWithRetry(socket, deadline, label, serverGone);
        boolean own = loop == null;
        MonitorLoop serving = own ? MonitorLoop.start("horcrux-qmp-" + label + "-" + CONNECTIONS.incrementAndGet()) : loop;
        QmpClient client;
        try {
            client = new QmpClient(channel, serving, own, label, timeout, maxLineBytes, listener);
            client.channel.start();
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            if (own) {
                serving.close();
            }
            throw new DriverException("QMP " + label + ": cannot serve the connection to " + socket + ": " + e, e);
        }
        try {
            // Sent at once, not after the greeting: QEMU greets a connection before it reads from it,
            // and the greeting still has to come first (a reply before it is a protocol error).
            Pending negotiation = client.send("qmp_capabilities", Map.of());
            client.awaitGreeting(deadline);
            client.await(negotiation, remaining(deadline));
            return client;
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    private static SocketChannel openWithRetry(Path socket, long deadline, String label, BooleanSupplier serverGone) {
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(socket);
        IOException last = null;
        do {
            SocketChannel channel = null;
            try {
                channel = SocketChannel.open(StandardProtocolFamily.UNIX);
                channel.connect(address);
                return channel;
            } catch (NoSuchFileException | SocketException e) {
                last = e;
                closeQuietly(channel);
            } catch (IOException e) {
                closeQuietly(channel);
                throw new DriverException("QMP " + label + ": cannot connect to " + socket + ": " + e, e);
            }
            if (serverGone.getAsBoolean()) {
                throw new DriverException("QMP " + label + ": QEMU exited before its socket " + socket
                        + " accepted a connection: " + last, last);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DriverException("QMP " + label + ": interrupted while connecting to " + socket, e);
            }
        } while (System.nanoTime() < deadline);
        throw new DriverException("QMP " + label + ": socket " + socket + " did not accept a connection in time: " + last,
                last);
    }

    private void awaitGreeting(long deadline) {
        try {
            greeting.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new DriverException("QMP " + label + ": no greeting from QEMU within the timeout");
        } catch (ExecutionException e) {
            throw asDriverException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("QMP " + label + ": interrupted while waiting for the greeting", e);
        }
    }

    /** QEMU's greeting: {@code {"QMP": {"version": ..., "capabilities": [...]}}}. */
    public JsonNode greeting() {
        return greeting.getNow(JsonNodeFactory.instance.objectNode());
    }

    /** Runs a command without arguments; see {@link #execute(String, Map, Duration)}. */
    public JsonNode execute(String command) {
        return execute(command, Map.of(), defaultTimeout);
    }

    /** Runs a command with the default timeout; see {@link #execute(String, Map, Duration)}. */
    public JsonNode execute(String command, Map<String, ?> arguments) {
        return execute(command, arguments, defaultTimeout);
    }

    /**
     * Runs a command and waits for its reply.
     *
     * @param command   the QMP command, for example {@code "query-status"}
     * @param arguments its arguments (converted to JSON with Jackson); empty for none
     * @param timeout   how long to wait for the reply
     * @return the {@code return} value of the reply
     * @throws QmpException    if QEMU answers with an error
     * @throws DriverException if there is no reply within the timeout or the connection ends
     */
    public JsonNode execute(String command, Map<String, ?> arguments, Duration timeout) {
        requirePositive(timeout, "timeout");
        return await(send(command, arguments), timeout);
    }

    /**
     * Sends a command without waiting for its reply, which {@link #await} then waits for.
     *
     * @throws DriverException if it cannot be sent (the connection is closed)
     */
    private Pending send(String command, Map<String, ?> arguments) {
        Objects.requireNonNull(command, "command");
        Objects.requireNonNull(arguments, "arguments");
        ObjectNode message = JSON.createObjectNode();
        message.put("execute", command);
        if (!arguments.isEmpty()) {
            message.set("arguments", JSON.valueToTree(arguments));
        }
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(message);
        } catch (IOException e) {
            throw new DriverException("QMP " + label + ": cannot encode command '" + command + "': " + e, e);
        }
        String reason = closedReason;
        if (reason != null) {
            throw new DriverException("QMP " + label + ": cannot send '" + command + "': connection closed (" + reason + ")");
        }
        Pending p = null;
        try {
            synchronized (writeLock) {
                byte[] bytes;
                if (untagged.get() == null && tagged.isEmpty()) {
                    p = new Pending(command, null, new CompletableFuture<>());
                    untagged.set(p);
                    bytes = withId(body, null);
                } else {
                    long id = ++lastId;
                    p = new Pending(command, id, new CompletableFuture<>());
                    tagged.put(id, p);
                    bytes = withId(body, id);
                }
                channel.write(ByteBuffer.wrap(bytes));
            }
            return p;
        } catch (IOException e) {
            // Nothing of it was sent: no reply is owed.
            untagged.compareAndSet(p, null);
            if (p != null && p.id() != null) {
                tagged.remove(p.id());
            }
            String closed = closedReason;
            throw new DriverException("QMP " + label + ": cannot send '" + command + "': "
                    + (closed != null ? "connection closed (" + closed + ")" : e.toString()), e);
        }
    }

    /** Waits up to {@code timeout} for the reply to a command {@link #send sent}. */
    private JsonNode await(Pending p, Duration timeout) {
        try {
            return p.reply().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new DriverException("QMP " + label + ": no reply to '" + p.command() + "' within " + timeout.toMillis()
                    + " ms");
        } catch (ExecutionException e) {
            throw asDriverException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("QMP " + label + ": interrupted while waiting for the reply to '" + p.command() + "'",
                    e);
        } finally {
            if (p.id() != null) {
                tagged.remove(p.id());
            }
            // An untagged command keeps its claim until its reply arrives: see the class comment.
        }
    }

    /** The line to send: the encoded command object, with {@code ,"id":<id>} before its closing brace when tagged. */
    private static byte[] withId(byte[] body, Long id) {
        byte[] tail = (id == null ? "}\n" : ",\"id\":" + id + "}\n").getBytes(StandardCharsets.US_ASCII);
        byte[] line = Arrays.copyOf(body, body.length - 1 + tail.length);
        System.arraycopy(tail, 0, line, body.length - 1, tail.length);
        return line;
    }

    /**
     * Adds a listener for events; it runs on the loop's thread and must not block.
     *
     * @return closing it removes the listener
     */
    public AutoCloseable addEventListener(Consumer<QmpEvent> listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    /** Completes, with the reason in words, when the connection has ended for any reason. */
    public CompletionStage<String> disconnected() {
        return disconnected.minimalCompletionStage();
    }

    /** Whether the connection is still open. */
    public boolean isOpen() {
        return closedReason == null;
    }

    /** Closes the connection; waiting commands fail with a {@link DriverException}. Idempotent. */
    @Override
    public void close() {
        shutdown("closed by the client");
        if (ownLoop != null) {
            ownLoop.close();
        }
    }

    @Override
    public String toString() {
        return "QmpClient[" + label + (closedReason == null ? "" : ", closed: " + closedReason) + "]";
    }

    // ---------------------------------------------------------------- reader

    /** Splits what the loop reads into lines and handles each; on the loop's thread. */
    private final class LineReader implements MonitorLoop.Handler {
        private byte[] line = new byte[4096];
        private int length;

        @Override
        public void received(byte[] data, int n) {
            try {
                for (int i = 0; i < n && closedReason == null; i++) {
                    byte b = data[i];
                    if (b == '\n') {
                        if (length > 0) {
                            handleLine(line, length);
                        }
                        length = 0;
                    } else {
                        if (length == maxLineBytes) {
                            shutdown("protocol error: a line longer than " + maxLineBytes + " bytes");
                            return;
                        }
                        if (length == line.length) {
                            line = Arrays.copyOf(line, (int) Math.min((long) line.length * 2, maxLineBytes));
                        }
                        line[length++] = b;
                    }
                }
                if (length == 0 && line.length > 4096) {
                    line = new byte[4096]; // a long reply is not kept for the connection's life
                }
            } catch (RuntimeException e) {
                log.warn("QMP {}: reader failed", label, e);
                shutdown("reader failed: " + e);
            }
        }

        @Override
        public void closed(boolean endOfStream, String reason) {
            if (endOfStream) {
                shutdown(length > 0 ? "QEMU closed the connection in the middle of a message" : "QEMU closed the connection");
            } else {
                shutdown(reason);
            }
        }
    }

    private void handleLine(byte[] line, int length) {
        JsonNode message;
        try {
            message = JSON.readTree(line, 0, length);
        } catch (IOException e) {
            shutdown("protocol error: not JSON: " + printable(line, length));
            return;
        }
        if (message == null || !message.isObject()) {
            shutdown("protocol error: not a JSON object: " + printable(line, length));
            return;
        }
        if (message.has("QMP")) {
            if (!greeting.complete(message.get("QMP"))) {
                log.warn("QMP {}: a second greeting, ignored", label);
            }
            return;
        }
        if (!greeting.isDone()) {
            shutdown("protocol error: no greeting, the first message is not one: " + printable(line, length));
            return;
        }
        if (message.hasNonNull("event")) {
            deliver(message);
            return;
        }
        if (!message.has("return") && !message.has("error")) {
            shutdown("protocol error: neither a reply nor an event: " + printable(line, length));
            return;
        }
        JsonNode id = message.get("id");
        Pending p;
        if (id == null) {
            p = untagged.getAndSet(null);
        } else {
            p = id.isIntegralNumber() && id.canConvertToLong() ? tagged.remove(id.asLong()) : null;
        }
        if (p == null) {
            log.warn("QMP {}: dropped a reply {}: {}", label, id == null ? "without an id while none was expected"
                    : "with an id this client did not send", printable(line, length));
            return;
        }
        JsonNode error = message.get("error");
        if (error != null) {
            p.reply().completeExceptionally(new QmpException(p.command(), error.path("class").asText("Unknown"),
                    error.path("desc").asText("")));
        } else {
            p.reply().complete(message.get("return"));
        }
    }

    private void deliver(JsonNode message) {
        JsonNode ts = message.path("timestamp");
        Instant timestamp = ts.has("seconds")
                ? Instant.ofEpochSecond(ts.path("seconds").asLong(), ts.path("microseconds").asLong() * 1000)
                : Instant.now();
        JsonNode data = message.has("data") ? message.get("data") : JsonNodeFactory.instance.objectNode();
        QmpEvent event = new QmpEvent(message.get("event").asText(), data, timestamp);
        for (Consumer<QmpEvent> listener : listeners) {
            try {
                listener.accept(event);
            } catch (RuntimeException e) {
                log.warn("QMP {}: an event listener failed on {}", label, event.name(), e);
            }
        }
    }

    /** Ends the connection once: records why, fails every waiting command, closes the channel. */
    private void shutdown(String reason) {
        synchronized (this) {
            if (closedReason != null) {
                return;
            }
            closedReason = reason;
        }
        channel.close(reason);
        if (ownLoop != null) {
            ownLoop.close(); // its only connection ended: the thread ends with it
        }
        DriverException failure = new DriverException("QMP " + label + ": connection lost: " + reason);
        greeting.completeExceptionally(failure);
        List<Pending> waiting = new ArrayList<>(tagged.values());
        Optional.ofNullable(untagged.getAndSet(null)).ifPresent(waiting::add);
        for (Pending p : waiting) {
            p.reply().completeExceptionally(new DriverException("QMP " + label + ": connection lost while waiting for the reply to '"
                    + p.command() + "': " + reason));
        }
        if (!"closed by the client".equals(reason)) {
            log.debug("QMP {}: {}", label, reason);
        }
        disconnected.complete(reason);
    }

    private DriverException asDriverException(Throwable cause) {
        if (cause instanceof DriverException d) {
            return d;
        }
        return new DriverException("QMP " + label + ": " + cause, cause);
    }

    private static String printable(byte[] line, int length) {
        String s = new String(line, 0, Math.min(length, 200), StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            sb.append(Character.isISOControl(c) ? '?' : c);
        }
        if (length > 200) {
            sb.append("... (").append(length).append(" bytes)");
        }
        return sb.toString();
    }

    private static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(deadline - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(1)));
    }

    private static void requirePositive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, was " + d);
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more to release
            }
        }
    }
}
