package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.model.DiskSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Where the files of one VM live: {@code <stateDirectory>/<vmId>/} holds the disks, the pidfile,
 * the serial log and, when their paths fit in {@code sun_path}, the driver's QMP socket
 * {@code qmp.sock} and the operator's {@code operator.sock}. A socket path that would be longer
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
    /**
     * {@code sun_path} holds 108 bytes on Linux, so 107 plus the terminating NUL; the JDK's
     * Unix-domain {@code SocketChannel} accepts one byte less.
     */
    static final int MAX_SOCKET_PATH_BYTES = 106;
    static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");
    private static final Path SHORT_SOCKET_ROOT = Path.of("/tmp");

    static VmFiles of(Path stateDirectory, String vmId) {
        Path directory = stateDirectory.resolve(vmId);
        return new VmFiles(directory, socket(stateDirectory, directory, vmId, "qmp.sock", ".qmp"),
                socket(stateDirectory, directory, vmId, "operator.sock", ".operator"));
    }

    private static Path socket(Path stateDirectory, Path directory, String vmId, String name, String shortSuffix) {
        Path socket = directory.resolve(name);
        if (length(socket) > MAX_SOCKET_PATH_BYTES) {
            socket = shortSocketDirectory(stateDirectory).resolve(vmId + shortSuffix);
            if (length(socket) > MAX_SOCKET_PATH_BYTES) {
                throw new DriverException("VM '" + vmId + "': no QMP socket path fits in the " + MAX_SOCKET_PATH_BYTES
                        + " bytes a Unix socket path may have: " + socket);
            }
        }
        return socket;
    }

    static Path shortSocketDirectory(Path stateDirectory) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(stateDirectory.toString().getBytes(StandardCharsets.UTF_8));
            return SHORT_SOCKET_ROOT.resolve("horcrux-" + HexFormat.of().formatHex(digest, 0, 6));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** The sockets that live outside the VM's directory, in the short socket directory. */
    List<Path> socketsOutsideDirectory() {
        return Stream.of(qmpSocket, operatorSocket)
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
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
                } catch (java.nio.file.FileAlreadyExistsException raced) {
                    // another driver made it at the same moment; checked below
                }
            }
            PosixFileAttributes attributes = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isDirectory()) {
                throw new DriverException("QMP socket directory " + dir + " exists and is not a directory");
            }
            if (!attributes.owner().equals(Files.getOwner(directory.getParent()))) {
                throw new DriverException("QMP socket directory " + dir + " belongs to " + attributes.owner()
                        + ", not to the owner of the state directory; refusing to use it");
            }
            Files.setPosixFilePermissions(dir, OWNER_ONLY_DIR);
        } catch (IOException e) {
            throw new DriverException("cannot prepare QMP socket directory " + dir + ": " + e, e);
        }
    }

    Path pidFile() {
        return directory.resolve("qemu.pid");
    }

    Path serialLog() {
        return directory.resolve("serial.log");
    }

    Path startLog() {
        return directory.resolve("qemu-start.log");
    }

    Path disk(DiskSpec disk) {
        return directory.resolve(disk.name() + "." + disk.format().qemuName());
    }

    private static int length(Path path) {
        return path.toString().getBytes(StandardCharsets.UTF_8).length;
    }
}
