package io.horcrux.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;

/**
 * Places Unix-domain sockets whose natural path does not fit in {@code sun_path}: a socket path
 * longer than {@value #MAX_SOCKET_PATH_BYTES} bytes moves to
 * {@code /tmp/horcrux-<hash of the owner's directory>/<name>}, a function of the owner's
 * directory and the name alone, so that a new process finds it again. {@code /tmp} is shared,
 * so that directory is made 0700 and refused when it is a symbolic link or someone else's.
 */
public final class SocketPaths {
    /**
     * {@code sun_path} holds 108 bytes on Linux, so 107 plus the terminating NUL; the JDK's
     * Unix-domain {@code SocketChannel} accepts one byte less.
     */
    public static final int MAX_SOCKET_PATH_BYTES = 106;
    private static final Path SHORT_SOCKET_ROOT = Path.of("/tmp");
    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");

    private SocketPaths() {
    }

    /**
     * {@code preferred} when it fits, else {@code <short directory of owner>/<shortName>}; empty
     * when neither fits.
     */
    public static Optional<Path> fit(Path preferred, Path owner, String shortName) {
        if (length(preferred) <= MAX_SOCKET_PATH_BYTES) {
            return Optional.of(preferred);
        }
        Path moved = shortDirectory(owner).resolve(shortName);
        return length(moved) <= MAX_SOCKET_PATH_BYTES ? Optional.of(moved) : Optional.empty();
    }

    /** The directory under {@code /tmp} where the long-pathed sockets of {@code owner} go. */
    public static Path shortDirectory(Path owner) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(owner.toString().getBytes(StandardCharsets.UTF_8));
            return SHORT_SOCKET_ROOT.resolve("horcrux-" + HexFormat.of().formatHex(digest, 0, 6));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /**
     * Creates {@code dir} (0700) if missing; refuses one that is not a directory (a symbolic link
     * included) or does not belong to the owner of {@code owner}.
     *
     * @throws IOException naming what is wrong
     */
    public static void prepareShortDirectory(Path dir, Path owner) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
            } catch (FileAlreadyExistsException raced) {
                // another process made it at the same moment; checked below
            }
        }
        PosixFileAttributes attributes = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attributes.isDirectory()) {
            throw new IOException("socket directory " + dir + " exists and is not a directory");
        }
        if (!attributes.owner().equals(Files.getOwner(owner))) {
            throw new IOException("socket directory " + dir + " belongs to " + attributes.owner()
                    + ", not to the owner of " + owner + "; refusing to use it");
        }
        Files.setPosixFilePermissions(dir, OWNER_ONLY_DIR);
    }

    private static int length(Path path) {
        return path.toString().getBytes(StandardCharsets.UTF_8).length;
    }
}
