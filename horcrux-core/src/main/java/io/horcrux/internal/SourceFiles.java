package io.horcrux.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;

/**
 * The file system's checks of a disk's source image (an overlay's base, a copy's source, a
 * CD-ROM's ISO), the same in every driver: it must exist, be a regular file (not a directory or
 * a device) and be readable, the owner's read bit checked even for root (who passes every
 * {@code access(2)} check), and its first byte must read.
 *
 * <p>Not API: this package may change without notice.
 */
public final class SourceFiles {
    private SourceFiles() {
    }

    /** What is wrong with {@code source} as a source image, as a rule and the reason; null when nothing is. */
    public static String problem(Path source) {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(source, PosixFileAttributes.class);
        } catch (IOException e) {
            return "must be an existing file, " + source + " does not exist";
        }
        if (attributes.isDirectory()) {
            return "must be a regular file, " + source + " is a directory";
        }
        if (!attributes.isRegularFile()) {
            return "must be a regular file, " + source + " is a device or another special file";
        }
        boolean own = attributes.owner().getName().equals(System.getProperty("user.name"));
        if (!Files.isReadable(source) || own && !attributes.permissions().contains(PosixFilePermission.OWNER_READ)) {
            return "must be readable, " + source + " is not (the owner's read bit is checked, even for root)";
        }
        try (InputStream in = Files.newInputStream(source)) {
            in.read();
        } catch (IOException e) {
            return "must be readable, " + source + ": " + e.getMessage();
        }
        return null;
    }
}
