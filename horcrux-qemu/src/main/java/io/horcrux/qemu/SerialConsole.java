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
 * The driver's end of a VM's first serial port: QEMU serves it on a Unix socket, and this reads
 * everything the guest prints into the VM's {@link ConsoleLog} on a daemon thread, and types
 * what {@link #write(String)} is given. It ends when QEMU closes the socket (the VM stopped) or
 * the driver closes it; the log stays readable.
 */
final class SerialConsole implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SerialConsole.class);
    /** The most one {@link #write(String)} may type, in UTF-8 bytes. */
    static final int MAX_WRITE_BYTES = 64 * 1024;

    private final String vmId;
    private final ConsoleLog consoleLog;
    private final SocketChannel channel;
    private final Thread reader;

    private SerialConsole(String vmId, ConsoleLog consoleLog, SocketChannel channel) {
        this.vmId = vmId;
        this.consoleLog = consoleLog;
        this.channel = channel;
        this.reader = new Thread(this::read, "horcrux-qemu-console-" + vmId);
        reader.setDaemon(true);
    }

    /**
     * Connects to the console socket, retrying until {@code timeout} (QEMU makes it before it
     * daemonizes, so it is normally there at once) or until {@code gone} says QEMU has exited.
     *
     * @throws DriverException if it cannot be reached
     */
    static SerialConsole connect(String vmId, Path socket, ConsoleLog consoleLog, Duration timeout,
                                 java.util.function.BooleanSupplier gone) {
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
                SerialConsole console = new SerialConsole(vmId, consoleLog, channel);
                console.reader.start();
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
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        synchronized (channel) {
            try {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            } catch (IOException e) {
                throw new DriverException("VM '" + vmId + "': cannot write to its serial console: " + e, e);
            }
        }
    }

    boolean isOpen() {
        return channel.isOpen() && !consoleLog.isEnded();
    }

    private void read() {
        ByteBuffer buffer = ByteBuffer.allocate(8192);
        try {
            while (true) {
                buffer.clear();
                int n = channel.read(buffer);
                if (n < 0) {
                    break;
                }
                consoleLog.append(buffer.array(), 0, n);
            }
        } catch (IOException | UncheckedIOException e) {
            if (channel.isOpen()) {
                log.debug("VM {}: console reader ended: {}", vmId, e.toString());
            }
        } finally {
            consoleLog.end();
        }
    }

    /** Lets go of the console; the guest runs on. Idempotent. */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            log.debug("VM {}: closing its console: {}", vmId, e.toString());
        }
    }
}
