package io.horcrux.qemu;

import io.horcrux.DriverException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A new, empty qcow2 image written by the driver itself rather than by a {@code qemu-img}
 * process: creating a VM's disk is then a few small writes instead of a process spawn, which
 * costs several times the rest of a create.
 *
 * <p>The image is what {@code qemu-img create -f qcow2 FILE SIZE} makes with its defaults
 * (QEMU's {@code docs/interop/qcow2.txt}): version 3 (compat 1.1), 64 KiB clusters, 16-bit
 * refcounts, zlib compression type, no backing file, no encryption, no snapshots, nothing
 * allocated. Four areas, each from a cluster boundary: the header (cluster 0), the refcount
 * table (cluster 1) with one refcount block (cluster 2) that counts the image's own clusters,
 * and the L1 table (from cluster 3), all of whose entries are zero. {@code Qcow2ImageIT} checks
 * every image with {@code qemu-img check} and compares its content with one {@code qemu-img}
 * made.
 */
final class Qcow2Image {
    private static final int MAGIC = 0x514649fb; // "QFI\xfb"
    private static final int CLUSTER_BITS = 16;
    private static final long CLUSTER = 1L << CLUSTER_BITS;
    private static final int HEADER_LENGTH = 112; // the version 3 header with its compression type byte
    private static final int BACKING_FORMAT_EXTENSION = 0xe2792aca;
    /** QEMU's limit on a backing file's name in a qcow2 header. */
    private static final int MAX_BACKING_NAME = 1023;
    private static final long REFCOUNT_TABLE = CLUSTER;
    private static final long REFCOUNT_BLOCK = 2 * CLUSTER;
    private static final long L1_TABLE = 3 * CLUSTER;
    /** What one L1 entry covers: an L2 table of 8-byte entries, each a cluster. */
    private static final long L2_COVERAGE = (CLUSTER / 8) * CLUSTER;

    private Qcow2Image() {
    }

    /**
     * Writes a new empty qcow2 image of {@code sizeBytes} (a multiple of 512) at {@code image}.
     *
     * @throws DriverException if the file exists or cannot be written; nothing is left then
     */
    static void create(Path image, long sizeBytes) {
        write(image, sizeBytes, null, null);
    }

    /**
     * Writes a new qcow2 overlay of {@code sizeBytes} at {@code image} on the backing file
     * {@code base} of format {@code baseFormat}: what {@code qemu-img create -f qcow2 -b BASE -F
     * FORMAT FILE SIZE} makes. The same image as {@link #create}, with the base's absolute path
     * after the header's extensions (in cluster 0) and its format in a "backing file format name"
     * extension (type {@code 0xe2792aca}), so QEMU opens the base with that format, never probing.
     *
     * @throws DriverException if the file exists or cannot be written; nothing is left then
     */
    static void createOverlay(Path image, long sizeBytes, Path base, String baseFormat) {
        QemuCommandLine.requireSafePath("base", base);
        QemuImg.requireFormatName(baseFormat);
        if (!base.isAbsolute()) {
            throw new IllegalArgumentException("a backing file is named by its absolute path, was " + base);
        }
        write(image, sizeBytes, base.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8),
                baseFormat.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    /**
     * The virtual size a qcow2 image's header records (bytes 24 to 31).
     *
     * @throws DriverException if the file is not a qcow2 image or cannot be read
     */
    static long virtualSize(Path image) {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate(32);
            while (head.hasRemaining() && ch.read(head, head.position()) > 0) {
                // read the first 32 bytes
            }
            if (head.position() < 32 || head.getInt(0) != MAGIC) {
                throw new DriverException("image " + image + " is not a qcow2 image");
            }
            return head.getLong(24);
        } catch (IOException e) {
            throw new DriverException("cannot read image " + image + ": " + e, e);
        }
    }

    private static void write(Path image, long sizeBytes, byte[] backing, byte[] backingFormat) {
        if (sizeBytes <= 0 || sizeBytes % 512 != 0) {
            throw new IllegalArgumentException("a qcow2 size is a positive multiple of 512, was " + sizeBytes);
        }
        int extension = backing == null ? 0 : 8 + (backingFormat.length + 7) / 8 * 8;
        int backingOffset = HEADER_LENGTH + extension + 8;
        int backingLength = backing == null ? 0 : backing.length;
        if (backingLength > MAX_BACKING_NAME) {
            throw new IllegalArgumentException("a backing file's path has at most " + MAX_BACKING_NAME + " bytes");
        }
        long l1Entries = (sizeBytes + L2_COVERAGE - 1) / L2_COVERAGE;
        long l1Clusters = (l1Entries * 8 + CLUSTER - 1) / CLUSTER;
        int clusters = (int) (3 + l1Clusters); // far below the 32768 one refcount block counts
        boolean created = false;
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            created = true;
            // the header, its extensions and their end marker, then the backing file's name
            ByteBuffer header = ByteBuffer.allocate(backingOffset + backingLength);
            header.putInt(MAGIC).putInt(3)
                    .putLong(backing == null ? 0 : backingOffset).putInt(backingLength)
                    .putInt(CLUSTER_BITS)
                    .putLong(sizeBytes)
                    .putInt(0) // no encryption
                    .putInt((int) l1Entries).putLong(L1_TABLE)
                    .putLong(REFCOUNT_TABLE).putInt(1)
                    .putInt(0).putLong(0) // no snapshots
                    .putLong(0).putLong(0).putLong(0) // incompatible, compatible, autoclear features: none
                    .putInt(4) // refcount order: 16-bit refcounts
                    .putInt(HEADER_LENGTH)
                    .put((byte) 0); // compression type zlib; the rest is padding and the end marker, zero
            if (backing != null) {
                header.position(HEADER_LENGTH);
                header.putInt(BACKING_FORMAT_EXTENSION).putInt(backingFormat.length).put(backingFormat);
                header.position(backingOffset); // padding, then the end marker (type 0, length 0), zero
                header.put(backing);
            }
            write(ch, header.clear(), 0);
            write(ch, ByteBuffer.allocate(8).putLong(0, REFCOUNT_BLOCK), REFCOUNT_TABLE);
            ByteBuffer refcounts = ByteBuffer.allocate(clusters * 2);
            for (int i = 0; i < clusters; i++) {
                refcounts.putShort((short) 1);
            }
            write(ch, refcounts.clear(), REFCOUNT_BLOCK);
            write(ch, ByteBuffer.allocate((int) (l1Entries * 8)), L1_TABLE); // every L2 table unallocated
        } catch (FileAlreadyExistsException e) {
            throw new DriverException("cannot create image " + image + ": the file exists");
        } catch (IOException e) {
            if (created) {
                try {
                    Files.deleteIfExists(image);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw new DriverException("cannot create image " + image + ": " + e, e);
        }
    }

    private static void write(FileChannel ch, ByteBuffer bytes, long position) throws IOException {
        long at = position;
        while (bytes.hasRemaining()) {
            at += ch.write(bytes, at);
        }
    }
}
