package io.horcrux.qemu;

import io.horcrux.spi.GuestConsole;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * What a guest printed on its serial console since its last start, bounded: the newest
 * {@code maxBytes} bytes are kept in memory and in a file of the VM's directory (so a new driver
 * that reattaches to the VM finds the earlier output), the oldest dropped first. The file grows
 * to at most twice the bound before it is rewritten with the newest half. Bytes are kept as the
 * guest sent them and decoded as UTF-8 only when read, invalid sequences replaced, so no byte
 * the guest sends can break the log. Thread-safe.
 */
final class ConsoleLog {
    private final Path file;
    private final int maxBytes;
    /** The kept bytes, a ring; it grows as output comes, up to {@code maxBytes}: a quiet guest costs little. */
    private byte[] ring = new byte[0];
    private final List<Consumer<String>> followers = new CopyOnWriteArrayList<>();
    /** Where followers are called: on the appending thread unless {@link #followersOn} says otherwise. */
    private volatile Executor followerExecutor = Runnable::run;
    private int start;
    private int size;
    private long fileBytes;
    private boolean ended;
    /** When the guest last printed, {@link System#nanoTime()}. */
    private long lastAppend = System.nanoTime();

    private ConsoleLog(Path file, int maxBytes) {
        this.file = file;
        this.maxBytes = maxBytes;
    }

    /** A log for a VM that starts now: what an earlier run printed is dropped. */
    static ConsoleLog fresh(Path file, int maxBytes) {
        ConsoleLog log = new ConsoleLog(file, maxBytes);
        try {
            VmFiles.emptyOwnerOnly(file); // emptied in place: nothing is half-written in a truncation
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the console log " + file, e);
        }
        return log;
    }

    /** The log of a VM that runs on (a reattach) or ran last: the file's newest bytes, up to the bound. */
    static ConsoleLog resumed(Path file, int maxBytes) {
        ConsoleLog log = new ConsoleLog(file, maxBytes);
        byte[] kept;
        try {
            kept = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            kept = new byte[0];
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the console log " + file, e);
        }
        log.keep(kept, Math.max(0, kept.length - maxBytes), Math.min(kept.length, maxBytes));
        log.fileBytes = kept.length;
        return log;
    }

    /** Adds what the guest printed, tells followers, and wakes {@link #await} callers. */
    void append(byte[] bytes, int offset, int length) {
        synchronized (this) {
            keep(bytes, offset, length);
            lastAppend = System.nanoTime();
            try (FileChannel out = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND), PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_FILE))) {
                out.write(ByteBuffer.wrap(bytes, offset, length));
                fileBytes += length;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the console log " + file, e);
            }
            if (fileBytes > 2L * maxBytes) {
                rewrite(snapshot());
            }
            notifyAll();
        }
        if (!followers.isEmpty()) {
            String text = new String(bytes, offset, length, StandardCharsets.UTF_8);
            followerExecutor.execute(() -> {
                for (Consumer<String> follower : followers) {
                    follower.accept(text);
                }
            });
        }
    }

    /**
     * Calls followers on {@code executor} (in order: it must run tasks one at a time, as a
     * {@link SerialExecutor} does), so that a slow follower never holds up the thread that
     * appends, which serves other VMs too.
     */
    void followersOn(Executor executor) {
        followerExecutor = java.util.Objects.requireNonNull(executor, "executor");
    }

    /** The guest's console is gone (QEMU exited or the driver let go): awaiting ends at once. */
    synchronized void end() {
        ended = true;
        notifyAll();
    }

    synchronized boolean isEnded() {
        return ended;
    }

    /** What is kept, decoded. */
    String text() {
        return new String(snapshot(), StandardCharsets.UTF_8);
    }

    synchronized byte[] snapshot() {
        byte[] copy = new byte[size];
        int first = Math.min(size, ring.length - start);
        System.arraycopy(ring, start, copy, 0, first);
        System.arraycopy(ring, 0, copy, first, size - first);
        return copy;
    }

    /**
     * The first line of the kept output that matches, waiting up to {@code timeout} for one; the
     * unfinished last line once the output has rested (see {@link GuestConsole#firstMatchingLine});
     * empty on timeout, or at once when the console has ended and nothing matched.
     */
    Optional<String> await(Pattern pattern, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long quietNanos = GuestConsole.QUIET.toNanos();
        synchronized (this) {
            while (true) {
                long now = System.nanoTime();
                boolean quiet = ended || now - lastAppend >= quietNanos;
                Optional<String> line = GuestConsole.firstMatchingLine(text(), pattern, quiet);
                if (line.isPresent() || ended) {
                    return line;
                }
                long left = deadline - now;
                if (left <= 0) {
                    return Optional.empty();
                }
                // Wake for new output, or when the output will have rested long enough.
                wait(Math.max(1, Math.min(left, quietNanos) / 1_000_000), 0);
            }
        }
    }

    /** Calls {@code follower} with each new piece of output until the returned handle is closed. */
    io.horcrux.Subscription follow(Consumer<String> follower) {
        followers.add(follower);
        return () -> followers.remove(follower);
    }

    private void keep(byte[] bytes, int offset, int length) {
        if (size + length > ring.length && ring.length < maxBytes) {
            byte[] grown = new byte[(int) Math.min(maxBytes, Math.max(Math.max(4096L, 2L * ring.length), (long) size + length))];
            byte[] kept = snapshot();
            System.arraycopy(kept, 0, grown, 0, kept.length);
            ring = grown;
            start = 0;
        }
        if (length >= ring.length) {
            System.arraycopy(bytes, offset + length - ring.length, ring, 0, ring.length);
            start = 0;
            size = ring.length;
            return;
        }
        for (int i = 0; i < length; i++) {
            int at = (start + size) % ring.length;
            ring[at] = bytes[offset + i];
            if (size < ring.length) {
                size++;
            } else {
                start = (start + 1) % ring.length;
            }
        }
    }

    private void rewrite(byte[] content) {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try {
            Files.deleteIfExists(partial);
            Files.createFile(partial, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_FILE));
            Files.write(partial, content);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            fileBytes = content.length;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the console log " + file, e);
        }
    }
}
