package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.internal.OwnerLock;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's state directory, claimed for one driver: its VM directories (with their disks),
 * which of them exist, and their removal. A second claim on the same directory, in this process
 * or another, fails naming the holder, so the VM directories found here are this driver's alone
 * and the ones the inventory does not know may be removed as orphans.
 */
final class StateDirectory implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StateDirectory.class);
    /** In the state directory; not a VM id, so never taken for a VM's directory. */
    static final String LOCK_FILE = ".lock";
    /** In the state directory, not a VM id: the accelerator probe's payload and kept answer. */
    static final String PROBE_DIRECTORY = ".probe";

    private final Path path;
    private final OwnerLock lock;

    private StateDirectory(Path path, OwnerLock lock) {
        this.path = path;
        this.lock = lock;
    }

    /**
     * Creates the directory (0700) if missing, checks that it is writable, and claims it.
     *
     * @throws DriverException if it cannot be created or written, or another driver holds it
     */
    static StateDirectory claim(Path given) {
        Path dir = prepare(given);
        // One driver per state directory: two would each take the other's VMs for orphans.
        return new StateDirectory(dir, OwnerLock.acquire(dir, dir.resolve(LOCK_FILE), "QemuDriver", DriverException::new));
    }

    /** The absolute, normalised path. */
    Path path() {
        return path;
    }

    VmFiles files(String vmId) {
        return VmFiles.of(path, vmId);
    }

    /** The probe's own directory (0700), made when first asked for. */
    Path probeDirectory() {
        Path dir = path.resolve(PROBE_DIRECTORY);
        try {
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR));
            }
            return dir;
        } catch (IOException e) {
            throw new DriverException("cannot create the accelerator probe's directory " + dir + ": " + e, e);
        }
    }

    /**
     * Creates the VM's directory (0700) and one image per disk; on any failure removes all of it.
     *
     * @throws DriverException if the directory exists, a raw disk does not fit, or an image cannot be made
     */
    void provision(VmSpec spec, QemuImg qemuImg) {
        provision(spec, qemuImg, (disk, image) -> {
            throw new DriverException("VM '" + spec.id() + "': disk '" + disk.name() + "' is made from an image");
        });
    }

    /** Makes the image of a disk that has a source ({@link io.horcrux.model.DiskKind#OVERLAY}, {@code COPY}). */
    @FunctionalInterface
    interface SourcedDisk {
        void make(DiskSpec disk, Path image);
    }

    /**
     * As {@link #provision(VmSpec, QemuImg)}, the disks made from images by {@code sourced}
     * (CD-ROMs need no file here: their ISO is attached in place).
     *
     * @throws io.horcrux.OperationCancelledException if {@code sourced} was cancelled; nothing is kept
     */
    void provision(VmSpec spec, QemuImg qemuImg, SourcedDisk sourced) {
        provisionEach(spec, (disk, image) -> {
            if (disk.kind() != io.horcrux.model.DiskKind.EMPTY) {
                sourced.make(disk, image);
            } else {
                makeEmpty(spec, disk, image, qemuImg);
            }
        });
    }

    private static void makeEmpty(VmSpec spec, DiskSpec disk, Path image, QemuImg qemuImg) throws IOException {
        if (disk.format() == DiskFormat.RAW) {
            long free = Files.getFileStore(image.getParent()).getUsableSpace();
            if (disk.sizeBytes() > free) {
                throw new DriverException("VM '" + spec.id() + "': disk '" + disk.name() + "' of "
                        + disk.sizeBytes() + " bytes does not fit in the " + free + " bytes free in " + image.getParent());
            }
        }
        if (disk.format() == DiskFormat.QCOW2) {
            Qcow2Image.create(image, disk.sizeBytes()); // no qemu-img process: see Qcow2Image
        } else {
            qemuImg.create(image, disk.format(), disk.sizeBytes());
        }
    }

    /** Makes one disk's image file; may throw what making it throws. */
    @FunctionalInterface
    interface DiskMaker {
        void make(DiskSpec disk, Path image) throws IOException;
    }

    /**
     * Creates the VM's directory (0700) and, by {@code maker}, the image (then 0600) of every disk
     * but CD-ROMs (their ISO is attached in place); on any failure removes all of it.
     *
     * @throws io.horcrux.OperationCancelledException if {@code maker} was cancelled; nothing is kept
     * @throws DriverException                        if the directory exists or an image cannot be made
     */
    void provisionEach(VmSpec spec, DiskMaker maker) {
        VmFiles files = files(spec.id());
        Path dir = files.directory();
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR));
        } catch (FileAlreadyExistsException e) {
            throw new DriverException("VM '" + spec.id() + "': cannot provision, " + dir + " already exists");
        } catch (IOException e) {
            throw new DriverException("VM '" + spec.id() + "': cannot create " + dir + ": " + e, e);
        }
        try {
            Files.setPosixFilePermissions(dir, VmFiles.OWNER_ONLY_DIR); // the umask may have narrowed it
            for (DiskSpec disk : spec.disks()) {
                Path image = files.disk(disk);
                if (disk.kind() == io.horcrux.model.DiskKind.CDROM) {
                    continue;
                }
                maker.make(disk, image);
                Files.setPosixFilePermissions(image, VmFiles.OWNER_ONLY_FILE);
            }
            log.debug("VM {}: provisioned {} disk(s) in {}", spec.id(), spec.disks().size(), dir);
        } catch (RuntimeException | IOException e) {
            try {
                deleteTree(dir);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            if (e instanceof io.horcrux.OperationCancelledException cancelled) {
                throw cancelled;
            }
            if (e instanceof DriverException d) {
                throw new DriverException("VM '" + spec.id() + "': provisioning failed, nothing kept: " + d.getMessage(), d);
            }
            throw new DriverException("VM '" + spec.id() + "': provisioning failed, nothing kept: " + e, e);
        }
    }

    /** The VM directories here: entries whose names are not VM ids are not the driver's. */
    Set<String> provisionedIds() {
        try (Stream<Path> entries = Files.list(path)) {
            return entries.filter(entry -> Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS))
                    .map(entry -> entry.getFileName().toString())
                    .filter(VmSpec::isValidId)
                    .collect(Collectors.toUnmodifiableSet());
        } catch (IOException e) {
            throw new DriverException("cannot list state directory " + path + ": " + e, e);
        }
    }

    /**
     * Whether {@code vmId} is one of {@link #provisionedIds()}: a VM id whose directory is here
     * (not a symbolic link). One look-up, not a listing: a start asks this of every VM.
     */
    boolean isProvisioned(String vmId) {
        return VmSpec.isValidId(vmId) && Files.isDirectory(path.resolve(vmId), LinkOption.NOFOLLOW_LINKS);
    }

    /** Removes the VM's directory and its sockets outside it. Idempotent; no process may run. */
    void remove(String vmId) {
        VmFiles files = files(vmId);
        try {
            deleteTree(files.directory());
            for (Path socket : files.socketsOutsideDirectory()) {
                Files.deleteIfExists(socket);
                try {
                    Files.deleteIfExists(socket.getParent());
                } catch (DirectoryNotEmptyException stillUsed) {
                    // other sockets of this state directory's VMs are still there
                }
            }
        } catch (IOException e) {
            throw new DriverException("VM '" + vmId + "': cannot remove " + files.directory() + ": " + e, e);
        }
    }

    /** Releases the claim for another driver. Idempotent. */
    @Override
    public void close() {
        lock.close();
    }

    /** Removes a file or a directory tree (never following symbolic links); nothing when absent. */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static Path prepare(Path given) {
        Path dir = given.toAbsolutePath().normalize();
        QemuCommandLine.requireSafePath("stateDirectory", dir);
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir.getParent());
                try {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR));
                } catch (FileAlreadyExistsException raced) {
                    // made by someone else meanwhile; checked below
                }
            }
            PosixFileAttributes attributes = Files.readAttributes(dir, PosixFileAttributes.class);
            if (!attributes.isDirectory()) {
                throw new DriverException("state directory " + dir + " exists and is not a directory");
            }
            Set<PosixFilePermission> perms = attributes.permissions();
            // Root passes access(2) checks whatever the mode says; the owner bits state intent.
            if (!perms.contains(PosixFilePermission.OWNER_WRITE) || !perms.contains(PosixFilePermission.OWNER_EXECUTE)
                    || !Files.isWritable(dir)) {
                throw new DriverException("state directory " + dir + " is not writable (mode "
                        + PosixFilePermissions.toString(perms) + ", owner " + attributes.owner() + ")");
            }
            if (perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                log.warn("state directory {} is accessible to other users (mode {}); VM directories inside are 0700",
                        dir, PosixFilePermissions.toString(perms));
            }
            return dir;
        } catch (IOException e) {
            throw new DriverException("cannot use state directory " + dir + ": " + e, e);
        }
    }
}
