package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.internal.SocketPaths;
import io.horcrux.model.DiskSpec;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.LoggerFactory;

/**
 * Where the files of one VM live: {@code <stateDirectory>/<vmId>/} holds the disks, the pidfile,
 * the serial log and, when their paths fit in {@code sun_path}, the driver's QMP socket
 * {@code qmp.sock}, the operator's {@code operator.sock} and the serial console's
 * {@code console.sock}. A socket path that would be longer
 * than {@value #MAX_SOCKET_PATH_BYTES} bytes moves to
 * {@code /tmp/horcrux-<hash of the state directory>/<vmId>.qmp} (or {@code <vmId>.operator}), a
 * function of the state directory and the id alone, so that a new driver finds it again. Each
 * socket's place is decided on its own, so the driver's socket stays where it is whether or not
 * the operator monitor is enabled.
 *
 * @param operatorSocket the operator monitor's socket; null only in the files a
 *                       {@link QemuCommandLine} derives, which need the directory alone
 */
record VmFiles(Path directory, Path qmpSocket, Path operatorSocket) {
    /** At most this many bytes in a socket path: see {@link SocketPaths}. */
    static final int MAX_SOCKET_PATH_BYTES = SocketPaths.MAX_SOCKET_PATH_BYTES;
    static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");

    static VmFiles of(Path stateDirectory, String vmId) {
        Path directory = stateDirectory.resolve(vmId);
        return new VmFiles(directory, socket(stateDirectory, directory, vmId, "qmp.sock", ".qmp"),
                socket(stateDirectory, directory, vmId, "operator.sock", ".operator"));
    }

    private static Path socket(Path stateDirectory, Path directory, String vmId, String name, String shortSuffix) {
        return SocketPaths.fit(directory.resolve(name), stateDirectory, vmId + shortSuffix).orElseThrow(() ->
                new DriverException("VM '" + vmId + "': no QMP socket path fits in the " + MAX_SOCKET_PATH_BYTES
                        + " bytes a Unix socket path may have: " + shortSocketDirectory(stateDirectory).resolve(vmId + shortSuffix)));
    }

    static Path shortSocketDirectory(Path stateDirectory) {
        return SocketPaths.shortDirectory(stateDirectory);
    }

    /**
     * The socket of the VM's first serial port, which QEMU serves and the driver's console reads:
     * {@code console.sock} in the VM's directory, or {@code <vmId>.console} in the short socket
     * directory of the state directory (the VM directory's parent) when that path is too long.
     */
    Path consoleSocket() {
        String vmId = directory.getFileName().toString();
        return socket(directory.getParent(), directory, vmId, "console.sock", ".console");
    }

    /** The sockets that live outside the VM's directory, in the short socket directory. */
    List<Path> socketsOutsideDirectory() {
        return Stream.of(qmpSocket, operatorSocket, consoleSocket())
                .filter(socket -> socket != null && !socket.getParent().equals(directory))
                .toList();
    }

    /**
     * Creates the short socket directory (0700) when a socket lives there, refusing one that is
     * a symbolic link or belongs to another user, since {@code /tmp} is shared.
     */
    void prepareSocketDirectory() {
        List<Path> outside = socketsOutsideDirectory();
        if (outside.isEmpty()) {
            return;
        }
        Path dir = outside.get(0).getParent();
        try {
            SocketPaths.prepareShortDirectory(dir, directory.getParent());
        } catch (IOException e) {
            throw new DriverException("cannot prepare QMP socket directory " + dir + ": " + e.getMessage(), e);
        }
    }

    Path pidFile() {
        return directory.resolve("qemu.pid");
    }

    /** What the guest printed on its serial console, bounded (see {@link ConsoleLog}). */
    Path serialLog() {
        return directory.resolve("serial.log");
    }

    Path startLog() {
        return directory.resolve("qemu-start.log");
    }

    /**
     * The cloud-init NoCloud seed (ISO 9660, volume label {@code cidata}); two dots, so no disk
     * file ({@code <name>.<format>}) can have its name.
     */
    Path cloudInitSeed() {
        return directory.resolve("seed.cidata.iso");
    }

    /** The digest of what {@link #cloudInitSeed()} holds, to rebuild it only when the spec's seed changed. */
    Path cloudInitDigest() {
        return directory.resolve("seed.cidata.sha256");
    }

    Path disk(DiskSpec disk) {
        return directory.resolve(disk.name() + "." + disk.format().qemuName());
    }

    /** The file QEMU opens for the disk: a CD-ROM's ISO in place, else the VM's own {@link #disk image}. */
    Path image(DiskSpec disk) {
        return disk.kind() == io.horcrux.model.DiskKind.CDROM ? Path.of(disk.source()) : disk(disk);
    }


    /**
     * Makes {@code file} an empty regular file readable and writable by its owner alone: an
     * existing one that is already that (not a link, mode 0600) is truncated, anything else there
     * is removed and the file created anew (0600, refusing to follow a link planted meanwhile).
     * Truncating is what a start does each time to its start log and console log: on some file
     * systems creating a file costs tenfold what truncating one does, and a start competes with
     * QEMU for the CPU.
     */
    static void emptyOwnerOnly(Path file) throws IOException {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            attributes = null;
        }
        if (attributes != null && attributes.isRegularFile() && attributes.permissions().equals(OWNER_ONLY_FILE)) {
            try (FileChannel truncated = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING,
                    LinkOption.NOFOLLOW_LINKS)) {
                return;
            } catch (NoSuchFileException e) {
                // removed since: created below
            }
        } else if (attributes != null) {
            Files.delete(file);
        }
        Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
    }

    /** Removes what only a running QEMU has: its sockets and pidfile. */
    void removeRuntimeFiles() {
        for (Path file : java.util.Arrays.asList(qmpSocket, operatorSocket, consoleSocket(), pidFile())) {
            if (file == null) {
                continue;
            }
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                LoggerFactory.getLogger(VmFiles.class).warn("cannot remove {}: {}", file, e.toString());
            }
        }
    }
}
