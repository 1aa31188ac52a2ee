package io.horcrux.qemu;

import io.horcrux.DriverException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's end of a VM's first serial port: QEMU serves it on a Unix socket, and the
 * driver's {@link MonitorLoop} (the thread that serves every VM's monitor and console) reads
 * everything the guest prints into the VM's {@link ConsoleLog}; {@link #write(String)} types
 * what it is given. It ends when QEMU closes the socket (the VM stopped) or the driver closes
 * it; the log stays readable.
 */
final class SerialConsole implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SerialConsole.class);
    /** The most one {@link #write(String)} may type, in UTF-8 bytes. */
    static final int MAX_WRITE_BYTES = 64 * 1024;
    private static final String CLOSED = "closed by the driver";

    private final String vmId;
    private final ConsoleLog consoleLog;
    private final MonitorLoop.Connection channel;

    private SerialConsole(String vmId, ConsoleLog consoleLog, SocketChannel socket, MonitorLoop loop) throws IOException {
        this.vmId = vmId;
        this.consoleLog = consoleLog;
        this.channel = loop.register(socket, new MonitorLoop.Handler() {
            @Override
            public void received(byte[] bytes, int length) {
                try {
                    consoleLog.append(bytes, 0, length);
                } catch (UncheckedIOException e) {
                    log.warn("VM {}: console output lost: {}", vmId, e.getMessage());
                }
            }

            @Override
            public void closed(boolean endOfStream, String reason) {
                if (!endOfStream && !reason.equals(CLOSED)) {
                    log.debug("VM {}: console reader ended: {}", vmId, reason);
                }
                consoleLog.end();
            }
        });
    }

    /**
     * Connects to the console socket, retrying until {@code timeout} (QEMU makes it before it
     * daemonizes, so it is normally there at once) or until {@code gone} says QEMU has exited.
     *
     * {@code loop} serves it from then on.
     *
     * @throws DriverException if it cannot be reached
     */
    static SerialConsole connect(String vmId, Path socket, ConsoleLog consoleLog, Duration timeout,
                                 java.util.function.BooleanSupplier gone, MonitorLoop loop) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    channel.connect(UnixDomainSocketAddress.of(socket));
                } catch (IOException e) {
                    channel.close();
                    throw e;
                }
                SerialConsole console;
                try {
                    console = new SerialConsole(vmId, consoleLog, channel, loop);
                    console.channel.start();
                } catch (IOException | RuntimeException e) {
                    channel.close();
                    throw new DriverException("VM '" + vmId + "': cannot serve its serial console: " + e, e);
                }
                return console;
            } catch (IOException e) {
                if (gone.getAsBoolean()) {
                    throw new DriverException("VM '" + vmId + "': QEMU exited before its serial console could be reached");
                }
                if (System.nanoTime() - deadline >= 0) {
                    throw new DriverException("VM '" + vmId + "': cannot connect to its serial console " + socket + ": "
                            + e, e);
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new DriverException("VM '" + vmId + "': interrupted while connecting to its console", interrupted);
                }
            }
        }
    }

    ConsoleLog log() {
        return consoleLog;
    }

    /**
     * Types {@code text} on the guest's serial console.
     *
     * @throws IllegalArgumentException if it is longer than {@value #MAX_WRITE_BYTES} bytes in UTF-8
     * @throws DriverException          if the console is closed
     */
    void write(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_WRITE_BYTES) {
            throw new IllegalArgumentException("text must be at most " + MAX_WRITE_BYTES + " bytes in UTF-8, was "
                    + bytes.length);
        }
        try {
            channel.write(ByteBuffer.wrap(bytes));
        } catch (IOException e) {
            throw new DriverException("VM '" + vmId + "': cannot write to its serial console: " + e, e);
        }
    }

    boolean isOpen() {
        return channel.isOpen() && !consoleLog.isEnded();
    }

    /** Lets go of the console; the guest runs on. Idempotent. */
    @Override
    public void close() {
        channel.close(CLOSED);
    }
}
