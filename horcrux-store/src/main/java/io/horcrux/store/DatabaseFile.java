package io.horcrux.store;

import io.horcrux.StoreException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Set;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The checks a database file passes before a store writes to it: writable (by its permission
 * bits, not only by access), an SQLite file, readable, and of a schema this version knows.
 * Each refusal is a {@link StoreException} naming the file, which is left unchanged.
 */
final class DatabaseFile {
    private static final byte[] SQLITE_MAGIC = "SQLite format 3\0".getBytes(StandardCharsets.US_ASCII);

    private DatabaseFile() {
    }

    /**
     * Refuses a read-only file or directory now rather than at the first write. The permission
     * bits are checked as well as access: a privileged user can write to a file marked
     * read-only, but a store must not write where its owner said no.
     */
    static void requireWritable(Path path, String where, String what) {
        boolean writable = Files.isWritable(path);
        String mode = "";
        PosixFileAttributeView posix = Files.getFileAttributeView(path, PosixFileAttributeView.class);
        if (writable && posix != null) {
            try {
                Set<PosixFilePermission> perms = posix.readAttributes().permissions();
                writable = perms.contains(PosixFilePermission.OWNER_WRITE)
                        || perms.contains(PosixFilePermission.GROUP_WRITE)
                        || perms.contains(PosixFilePermission.OTHERS_WRITE);
                mode = " (mode " + PosixFilePermissions.toString(perms) + ")";
            } catch (IOException e) {
                throw new StoreException(where + ": cannot read the permissions of " + path + " (" + e + ")", e);
            }
        }
        if (writable) {
            try {
                writable = !Files.getFileStore(path).isReadOnly();
                if (!writable) {
                    mode = " (read-only file system)";
                }
            } catch (IOException e) {
                throw new StoreException(where + ": cannot inspect " + path + " (" + e + ")", e);
            }
        }
        if (!writable) {
            throw new StoreException(where + ": " + what + " is read-only" + mode
                    + "; the store needs to write the database, its journal and its lock file");
        }
    }

    static void requireSqliteHeader(Path file) {
        byte[] head = new byte[SQLITE_MAGIC.length];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            throw new StoreException(file + ": cannot read the file (" + e + ")", e);
        }
        if (n > 0 && (n < head.length || !Arrays.equals(head, SQLITE_MAGIC))) {
            throw new StoreException(file + ": not an SQLite database (no SQLite header); the file was not changed");
        }
    }

    /**
     * Reads an existing database read-only before anything writes to it: a corrupt file or one
     * of a newer schema fails here, unchanged.
     */
    static void probe(Path file) {
        SQLiteConfig config = new SQLiteConfig();
        config.setReadOnly(true);
        SQLiteDataSource ds = new SQLiteDataSource(config);
        ds.setUrl("jdbc:sqlite:" + file);
        int version;
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            version = Migrations.userVersion(c);
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM sqlite_master")) {
                rs.next();
            }
        } catch (SQLException e) {
            throw new StoreException(file + ": not a readable SQLite database, or corrupt (" + e.getMessage()
                    + "); the file was not changed", e);
        }
        Migrations.checkNotNewer(version, file.toString());
    }
}
