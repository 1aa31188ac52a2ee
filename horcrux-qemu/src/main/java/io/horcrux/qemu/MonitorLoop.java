package io.horcrux.qemu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One thread that serves many Unix-socket connections (the QMP monitors and serial consoles of
 * every VM of a driver) with a NIO {@link Selector}: it reads what each peer sends and hands it
 * to the connection's {@link Handler}, and writes what could not be written at once.
 *
 * <h2>Fairness</h2>
 * Each turn reads at most one buffer ({@value #READ_BUFFER_BYTES} bytes) from each ready
 * connection before it serves the next, so a peer that sends without pause (a guest resetting
 * in a loop, a flood of events) takes one buffer's worth of the thread per turn and never
 * starves the others.
 *
 * <h2>Threads</h2>
 * Handlers run on the loop's thread and must not block: a blocking handler holds up every
 * connection of the loop. {@link Connection#write} may be called from any thread.
 * {@link #close()} closes every connection (their handlers see {@link Handler#closed}) and
 * returns once the thread has ended.
 */
final class MonitorLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MonitorLoop.class);
    /** The most read from one connection per turn. */
    static final int READ_BUFFER_BYTES = 64 * 1024;
    /** The most bytes queued for a peer that does not read; beyond it a write fails. */
    static final int MAX_QUEUED_WRITE_BYTES = 1 << 20;

    /** What a connection does with what its peer sends; called on the loop's thread, must not block. */
    interface Handler {
        /** Bytes from the peer: {@code bytes[0..length)}, valid only during the call. */
        void received(byte[] bytes, int length);

        /** The connection ended: the peer closed it ({@code endOfStream}), a read failed, or it was closed here. */
        void closed(boolean endOfStream, String reason);
    }

    private final Selector selector;
    private final String threadName;
    /** Whether the thread is started when there is work and ends when no connection is left. */
    private final boolean onDemand;
    private final Object threadLock = new Object();
    /** The loop's thread while one runs; written under {@link #threadLock}. */
    private volatile Thread thread;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_BUFFER_BYTES);
    private final byte[] readBytes = new byte[READ_BUFFER_BYTES];
    private volatile boolean closed;

    /** How long an on-demand loop's thread stays once it serves no connection. */
    static final long LINGER_MILLIS = 1000;

    private MonitorLoop(String threadName, boolean onDemand) throws IOException {
        this.selector = Selector.open();
        this.threadName = threadName;
        this.onDemand = onDemand;
    }

    /**
     * Starts a loop on a new daemon thread named {@code threadName}, which runs until
     * {@link #close()}.
     *
     * @throws java.io.UncheckedIOException if no selector can be opened
     */
    static MonitorLoop start(String threadName) {
        MonitorLoop loop = open(threadName, false);
        synchronized (loop.threadLock) {
            loop.startThread();
        }
        return loop;
    }

    /**
     * A loop whose daemon thread, named {@code threadName}, runs only while it serves
     * connections: started by the first, ended about {@value #LINGER_MILLIS} ms after the last
     * is gone. A driver that is never closed leaves no thread once its VMs are stopped.
     *
     * @throws java.io.UncheckedIOException if no selector can be opened
     */
    static MonitorLoop onDemand(String threadName) {
        return open(threadName, true);
    }

    private static MonitorLoop open(String threadName, boolean onDemand) {
        try {
            return new MonitorLoop(threadName, onDemand);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot open a selector", e);
        }
    }

    private void startThread() { // under threadLock
        Thread t = new Thread(this::run, threadName);
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    /** Whether the caller runs on the loop's thread. */
    boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /**
     * A connection of this loop over {@code channel} (connected; it is switched to
     * non-blocking); the loop serves it once it is {@link Connection#start() started}.
     */
    Connection register(SocketChannel channel, Handler handler) throws IOException {
        channel.configureBlocking(false);
        return new Connection(channel, handler);
    }

    /** The number of connections served. */
    int connections() {
        return selector.keys().size();
    }

    /** Whether the loop has a thread now. */
    boolean hasThread() {
        return thread != null;
    }

    private boolean submit(Runnable task) {
        if (closed) {
            return false;
        }
        tasks.add(task);
        synchronized (threadLock) {
            if (thread == null && !closed) {
                startThread();
            }
        }
        selector.wakeup();
        return true;
    }

    private void run() {
        try {
            while (!closed) {
                runTasks();
                int ready = onDemand ? selector.select(LINGER_MILLIS) : selector.select();
                Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                while (keys.hasNext()) {
                    SelectionKey key = keys.next();
                    keys.remove();
                    Connection c = (Connection) key.attachment();
                    try {
                        if (key.isValid() && key.isWritable()) {
                            c.flush();
                        }
                        if (key.isValid() && key.isReadable()) {
                            c.read();
                        }
                    } catch (CancelledKeyException e) {
                        c.end(false, "closed by the client");
                    } catch (RuntimeException e) {
                        log.warn("monitor loop: a connection's handler failed", e);
                        c.end(false, "handler failed: " + e);
                    }
                }
                if (onDemand && ready == 0 && selector.keys().isEmpty()) {
                    synchronized (threadLock) {
                        if (tasks.isEmpty() && !closed) {
                            thread = null; // idle: the next connection starts a new thread
                            return;
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            log.error("monitor loop ended: {}", e.toString(), e);
            closed = true;
        }
        endAll();
    }

    /** Once closed: runs what is queued, ends every connection, closes the selector. */
    private synchronized void endAll() {
        runTasks();
        if (!selector.isOpen()) {
            return;
        }
        for (SelectionKey key : selector.keys()) {
            ((Connection) key.attachment()).end(false, "closed by the client");
        }
        try {
            selector.close();
        } catch (IOException ignored) {
            // nothing more to release
        }
    }

    private void runTasks() {
        Runnable task;
        while ((task = tasks.poll()) != null) {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.warn("monitor loop: a task failed", e);
            }
        }
    }

    /** Ends the loop and every connection; returns once its thread has ended (at once on it). Idempotent. */
    @Override
    public void close() {
        Thread t;
        synchronized (threadLock) {
            closed = true;
            t = thread;
        }
        selector.wakeup();
        if (t == null) {
            endAll(); // no thread to do it
        } else if (t != Thread.currentThread()) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One served channel. */
    final class Connection {
        private final SocketChannel channel;
        private final Handler handler;
        private final Queue<ByteBuffer> pending = new ArrayDeque<>(); // guarded by itself
        private final CompletableFuture<Void> ended = new CompletableFuture<>();
        private int pendingBytes; // guarded by pending
        private SelectionKey key; // loop thread only

        private Connection(SocketChannel channel, Handler handler) {
            this.channel = channel;
            this.handler = handler;
        }

        /**
         * Starts serving the connection: from now on its handler is called.
         *
         * @throws IllegalStateException if the loop is closed (the channel is closed then too)
         */
        void start() {
            if (!submit(this::attach)) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // nothing more to release
                }
                throw new IllegalStateException("the monitor loop is closed");
            }
        }

        private void attach() {
            try {
                key = channel.register(selector, SelectionKey.OP_READ, this);
                synchronized (pending) {
                    if (!pending.isEmpty()) {
                        key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                    }
                }
            } catch (ClosedChannelException e) {
                end(false, "closed by the client");
            }
        }

        private void read() {
            readBuffer.clear();
            int n;
            try {
                n = channel.read(readBuffer);
            } catch (IOException e) {
                end(false, "read failed: " + e);
                return;
            }
            if (n < 0) {
                end(true, "end of stream");
                return;
            }
            readBuffer.flip();
            readBuffer.get(readBytes, 0, n);
            handler.received(readBytes, n);
        }

        /**
         * Sends {@code bytes}: at once as far as the socket takes them, the rest queued for the loop.
         * Calls from different threads are sent whole, in the order they were made.
         *
         * @throws IOException if the connection is closed, or the peer has not read what is
         *                     queued for it and this would take it past
         *                     {@value #MAX_QUEUED_WRITE_BYTES} bytes (nothing of it is sent then)
         */
        void write(ByteBuffer bytes) throws IOException {
            synchronized (pending) {
                if (!channel.isOpen()) {
                    throw new ClosedChannelException();
                }
                // Refused whole or sent whole: a message is never cut.
                if (pendingBytes > 0 && pendingBytes + bytes.remaining() > MAX_QUEUED_WRITE_BYTES) {
                    throw new IOException("the peer has not read the " + pendingBytes + " bytes sent to it");
                }
                if (pending.isEmpty()) {
                    while (bytes.hasRemaining()) {
                        if (channel.write(bytes) == 0) {
                            break;
                        }
                    }
                    if (!bytes.hasRemaining()) {
                        return;
                    }
                }
                ByteBuffer copy = ByteBuffer.allocate(bytes.remaining()).put(bytes).flip();
                boolean first = pending.isEmpty();
                pending.add(copy);
                pendingBytes += copy.remaining();
                if (!first) {
                    return;
                }
            }
            submit(this::wantWrite);
        }

        private void wantWrite() {
            if (key != null && key.isValid()) {
                key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            }
        }

        private void flush() {
            synchronized (pending) {
                try {
                    while (!pending.isEmpty()) {
                        ByteBuffer head = pending.peek();
                        int n = channel.write(head);
                        pendingBytes -= n;
                        if (head.hasRemaining()) {
                            return;
                        }
                        pending.poll();
                    }
                } catch (IOException e) {
                    pending.clear();
                    pendingBytes = 0;
                    end(false, "write failed: " + e);
                    return;
                }
            }
            key.interestOps(SelectionKey.OP_READ);
        }

        /** Closes the connection once and tells the handler; on the loop's thread. */
        private synchronized void end(boolean endOfStream, String reason) {
            if (ended.isDone()) {
                return;
            }
            if (key != null) {
                key.cancel();
            }
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more to release
            }
            try {
                handler.closed(endOfStream, reason);
            } catch (RuntimeException e) {
                log.warn("monitor loop: a connection's close handler failed", e);
            } finally {
                ended.complete(null);
            }
        }

        /** Whether the channel is open. */
        boolean isOpen() {
            return channel.isOpen() && !ended.isDone();
        }

        /**
         * Closes the connection; its handler is told {@code reason}. Returns once the loop has let
         * go of it (at once on the loop's thread), so that no handler call of it runs after.
         */
        void close(String reason) {
            if (inLoop()) {
                end(false, reason);
                return;
            }
            // Closing the channel here wakes no one: the loop is asked to end it.
            if (!submit(() -> end(false, reason))) {
                MonitorLoop.this.close(); // the loop has ended or is ending: it will not
                end(false, reason);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            try {
                while (true) {
                    try {
                        ended.get(100, TimeUnit.MILLISECONDS);
                        return;
                    } catch (TimeoutException e) {
                        Thread t = thread;
                        if (t == null || !t.isAlive()) {
                            end(false, reason); // the loop ended before it took the task
                            return;
                        }
                        if (System.nanoTime() - deadline >= 0) {
                            log.warn("monitor loop: a connection did not end within 10 s");
                            return;
                        }
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException e) {
                log.warn("monitor loop: ending a connection failed: {}", e.toString());
            }
        }
    }
}
