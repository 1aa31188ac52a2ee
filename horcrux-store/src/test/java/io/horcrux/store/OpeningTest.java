package io.horcrux.store;

import static io.horcrux.store.SampleVms.vm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.StoreException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What opening checks before it changes anything: the file is SQLite, readable, of a schema
 * this version knows, writable, and not open in another store. A refused file keeps every byte.
 */
class OpeningTest {
    @TempDir
    Path dir;

    private static String sha256(Path file) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private Path populatedDatabase() {
        Path db = dir.resolve("inventory.db");
        try (SqliteVmStore store = SqliteVmStore.open(db)) {
            store.insertAll(List.of(vm("one"), vm("two")));
        }
        return db;
    }

    private List<String> filesInDir() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aFileThatIsNotSqliteIsRefusedUntouched() throws Exception {
        Path notDb = dir.resolve("notes.db");
        Files.writeString(notDb, "these are my notes, not a database\n".repeat(200));
        String before = sha256(notDb);

        assertThatThrownBy(() -> SqliteVmStore.open(notDb))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining(notDb.toString())
                .hasMessageContaining("not an SQLite database");
        assertThat(sha256(notDb)).isEqualTo(before);
        assertThat(filesInDir()).containsExactly("notes.db");
    }

    @Test
    void aCorruptDatabaseIsRefusedUntouched() throws Exception {
        Path db = populatedDatabase();
        // Keep the 100-byte header (so it still looks like SQLite), overwrite the schema page.
        byte[] noise = new byte[3000];
        new Random(42).nextBytes(noise);
        try (RandomAccessFile raf = new RandomAccessFile(db.toFile(), "rw")) {
            raf.seek(100);
            raf.write(noise);
        }
        String before = sha256(db);

        assertThatThrownBy(() -> SqliteVmStore.open(db))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining(db.toString())
                .hasMessageContaining("corrupt");
        assertThat(sha256(db)).isEqualTo(before);
    }

    @Test
    void aDatabaseOfANewerSchemaIsRefusedUntouched() throws Exception {
        Path db = populatedDatabase();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
            s.execute("PRAGMA user_version = " + (Migrations.LATEST + 1));
        }
        String before = sha256(db);

        assertThatThrownBy(() -> SqliteVmStore.open(db))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining(db.toString())
                .hasMessageContaining("newer")
                .hasMessageContaining("schema version " + (Migrations.LATEST + 1));
        assertThat(sha256(db)).isEqualTo(before);
    }

    @Test
    void anEmptyFileBecomesANewDatabase() throws Exception {
        Path db = dir.resolve("empty.db");
        Files.createFile(db);
        try (SqliteVmStore store = SqliteVmStore.open(db)) {
            store.insert(vm("first"));
        }
        try (SqliteVmStore store = SqliteVmStore.open(db)) {
            assertThat(store.find("first")).isPresent();
        }
    }

    @Test
    void reopeningKeepsTheDataAndTheSchemaVersion() throws SQLException {
        Path db = populatedDatabase();
        try (SqliteVmStore store = SqliteVmStore.open(db)) {
            assertThat(store.find("two")).isPresent();
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            assertThat(Migrations.userVersion(c)).isEqualTo(Migrations.LATEST);
        }
    }

    @Test
    void aReadOnlyFileIsRefusedAtOpen() throws Exception {
        Path db = populatedDatabase();
        Files.setPosixFilePermissions(db, PosixFilePermissions.fromString("r--r--r--"));
        String before = sha256(db);

        assertThatThrownBy(() -> SqliteVmStore.open(db))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining(db.toString())
                .hasMessageContaining("read-only");
        assertThat(sha256(db)).isEqualTo(before);
    }

    @Test
    void aReadOnlyDirectoryIsRefusedAtOpen() throws Exception {
        Path db = populatedDatabase();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assertThatThrownBy(() -> SqliteVmStore.open(db))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("directory")
                    .hasMessageContaining("read-only");
            assertThatThrownBy(() -> SqliteVmStore.open(dir.resolve("new.db")))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("read-only");
            assertThat(Files.exists(dir.resolve("new.db"))).isFalse();
        } finally {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    @Test
    void aSecondStoreOnTheSameFileInThisProcessIsRefusedNamingTheHolder() {
        Path db = dir.resolve("shared.db");
        try (SqliteVmStore first = SqliteVmStore.open(db)) {
            assertThatThrownBy(() -> SqliteVmStore.open(db))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining(db.toString())
                    .hasMessageContaining("pid " + ProcessHandle.current().pid());
            // The same file through another spelling of its path.
            assertThatThrownBy(() -> SqliteVmStore.open(dir.resolve("sub/../shared.db")))
                    .isInstanceOf(StoreException.class);
            first.insert(vm("still-usable"));
        }
        try (SqliteVmStore again = SqliteVmStore.open(db)) {
            assertThat(again.find("still-usable")).isPresent();
        }
    }

    @Test
    void aDirectoryIsNotADatabase() throws IOException {
        Path sub = Files.createDirectory(dir.resolve("sub.db"));
        assertThatThrownBy(() -> SqliteVmStore.open(sub))
                .isInstanceOf(StoreException.class).hasMessageContaining("not a regular file");
    }
}
