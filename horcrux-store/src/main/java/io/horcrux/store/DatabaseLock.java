package io.horcrux.store;

import io.horcrux.StoreException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Optional;

/**
 * The claim of one store on one database file: an OS lock on {@code <database>.lock}, which
 * holds the owner's pid and start time so that a refused opener can name it. The OS drops the
 * lock when the owner exits, however it exits (SIGKILL included), so a stale file never
 * blocks anyone; the file itself is left in place.
 */
final class DatabaseLock implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private DatabaseLock(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    static Path pathFor(Path database) {
        return database.resolveSibling(database.getFileName() + ".lock");
    }

    /**
     * Claims the database or fails naming who holds it.
     *
     * @throws StoreException if another process or another store in this JVM holds it, or the
     *                        lock file cannot be written
     */
    static DatabaseLock acquire(Path database) {
        Path path = pathFor(database);
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new StoreException(database + ": cannot create the lock file " + path + " (" + e + ");"
                    + " the database's directory must be writable", e);
        }
        try {
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                throw new StoreException(database + ": already open in this process by another SqliteVmStore"
                        + holder(channel).map(h -> " (" + h + ")").orElse("") + "; share one store", e);
            }
            if (lock == null) {
                throw new StoreException(database + ": in use by another process"
                        + holder(channel).map(h -> " (" + h + ")").orElse("")
                        + "; only one store may open a database at a time (lock file " + path + ")");
            }
            ProcessHandle self = ProcessHandle.current();
            String owner = "pid " + self.pid() + ", started "
                    + self.info().startInstant().map(Instant::toString).orElse("at an unknown time") + "\n";
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(owner.getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(false);
            return new DatabaseLock(path, channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new StoreException(database + ": cannot lock " + path + " (" + e + ")", e);
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

    Path path() {
        return path;
    }

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
