package io.horcrux.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * The claim of one owner (a store on its database, a driver on its state directory) on one
 * resource: an OS lock on a lock file, which holds the owner's pid and start time so that a
 * refused claimant can name it. The OS drops the lock when the owner exits, however it exits
 * (SIGKILL included), so a stale file never blocks anyone; the file itself is left in place.
 */
public final class OwnerLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private OwnerLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Claims {@code resource} through {@code lockFile} (created mode 0600 if missing) or fails
     * naming who holds it.
     *
     * @param owner   what claims it, for messages: {@code "SqliteVmStore"}, {@code "QemuDriver"}
     * @param failure makes the exception to throw from a message and its cause (may be null)
     * @throws RuntimeException from {@code failure} if another process or another owner in this
     *                          JVM holds the lock, or the lock file cannot be written
     */
    public static OwnerLock acquire(Path resource, Path lockFile, String owner,
                                    BiFunction<String, Throwable, ? extends RuntimeException> failure) {
        FileChannel channel;
        try {
            channel = FileChannel.open(lockFile, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (IOException e) {
            throw failure.apply(resource + ": cannot create the lock file " + lockFile + " (" + e + "); its directory"
                    + " must be writable", e);
        }
        try {
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                throw failure.apply(resource + ": already in use in this process by another " + owner
                        + holder(channel).map(h -> " (" + h + ")").orElse("") + "; share one", e);
            }
            if (lock == null) {
                throw failure.apply(resource + ": in use by another process" + holder(channel).map(h -> " (" + h + ")").orElse("")
                        + "; only one " + owner + " may use it at a time (lock file " + lockFile + ")", null);
            }
            ProcessHandle self = ProcessHandle.current();
            String holder = "pid " + self.pid() + ", started "
                    + self.info().startInstant().map(Instant::toString).orElse("at an unknown time") + "\n";
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(holder.getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(false);
            return new OwnerLock(channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw failure.apply(resource + ": cannot lock " + lockFile + " (" + e + ")", e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    /** What the holder wrote in the lock file, as far as it can be read. */
    private static Optional<String> holder(FileChannel channel) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(256);
            channel.read(buffer, 0);
            String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
            return text.isEmpty() || text.chars().anyMatch(ch -> ch < 0x20 && ch != '\n')
                    ? Optional.empty() : Optional.of(text.replace('\n', ' '));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // already failing; the original error says more
        }
    }

    /** Releases the claim. Idempotent. */
    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel below releases it too
        }
        closeQuietly(channel);
    }
}
