package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmFilesTest {
    @Test
    void aShortStateDirectoryKeepsTheSocketInTheVmDirectory() {
        VmFiles files = VmFiles.of(Path.of("/var/lib/horcrux"), "web-1");
        assertThat(files.qmpSocket()).isEqualTo(Path.of("/var/lib/horcrux/web-1/qmp.sock"));
        assertThat(files.operatorSocket()).isEqualTo(Path.of("/var/lib/horcrux/web-1/operator.sock"));
        assertThat(files.consoleSocket()).isEqualTo(Path.of("/var/lib/horcrux/web-1/console.sock"));
        assertThat(files.socketsOutsideDirectory()).isEmpty();
        assertThat(files.pidFile()).isEqualTo(Path.of("/var/lib/horcrux/web-1/qemu.pid"));
    }

    @Test
    void aDeepStateDirectoryMovesTheSocketToAShortStableDirectory() {
        Path deep = Path.of("/srv/" + "very-long-directory-name/".repeat(8));
        String id = "a".repeat(63);
        VmFiles files = VmFiles.of(deep, id);
        assertThat(files.socketsOutsideDirectory()).containsExactly(files.qmpSocket(), files.operatorSocket(),
                files.consoleSocket());
        assertThat(files.consoleSocket().getFileName().toString()).isEqualTo(id + ".console");
        assertThat(files.consoleSocket().getParent()).isEqualTo(files.qmpSocket().getParent());
        assertThat(files.qmpSocket().toString().getBytes(StandardCharsets.UTF_8).length)
                .isLessThanOrEqualTo(VmFiles.MAX_SOCKET_PATH_BYTES);
        assertThat(files.operatorSocket().toString().getBytes(StandardCharsets.UTF_8).length)
                .isLessThanOrEqualTo(VmFiles.MAX_SOCKET_PATH_BYTES);
        assertThat(files.qmpSocket().getFileName().toString()).isEqualTo(id + ".qmp");
        assertThat(files.operatorSocket().getFileName().toString()).isEqualTo(id + ".operator");
        assertThat(files.operatorSocket().getParent()).isEqualTo(files.qmpSocket().getParent());
        assertThat(VmFiles.of(deep, id)).isEqualTo(files);
        assertThat(VmFiles.of(Path.of(deep + "2"), id).qmpSocket().getParent()).isNotEqualTo(files.qmpSocket().getParent());
    }

    @Test
    void eachSocketMovesOnItsOwnSoTheDriversSocketStaysPut() {
        // A state directory where "qmp.sock" still fits in the VM's directory and "operator.sock" does not.
        String id = "vm";
        int room = VmFiles.MAX_SOCKET_PATH_BYTES - ("/" + id + "/qmp.sock").length();
        Path state = Path.of("/" + "s".repeat(room - 1));
        VmFiles files = VmFiles.of(state, id);
        assertThat(files.qmpSocket()).isEqualTo(state.resolve(id).resolve("qmp.sock"));
        assertThat(files.operatorSocket()).isEqualTo(VmFiles.shortSocketDirectory(state).resolve(id + ".operator"));
        assertThat(files.consoleSocket()).isEqualTo(VmFiles.shortSocketDirectory(state).resolve(id + ".console"));
        assertThat(files.socketsOutsideDirectory()).containsExactly(files.operatorSocket(), files.consoleSocket());
    }

    @TempDir
    Path dir;

    @Test
    void emptyingAFileOfTheOwnersTruncatesItInPlace() throws Exception {
        Path file = dir.resolve("serial.log");
        VmFiles.emptyOwnerOnly(file);
        assertThat(file).isRegularFile().isEmptyFile();
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(VmFiles.OWNER_ONLY_FILE);
        Files.writeString(file, "what the last run printed");
        Object inode = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey();

        VmFiles.emptyOwnerOnly(file);

        assertThat(file).isEmptyFile();
        assertThat(Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class).fileKey()).isEqualTo(inode);
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(VmFiles.OWNER_ONLY_FILE);
    }

    @Test
    void emptyingReplacesWhatIsNotAnOwnerOnlyFileAndNeverFollowsALink() throws Exception {
        Path readable = dir.resolve("qemu-start.log");
        Files.writeString(readable, "old");
        Files.setPosixFilePermissions(readable, PosixFilePermissions.fromString("rw-r--r--"));
        VmFiles.emptyOwnerOnly(readable);
        assertThat(readable).isEmptyFile();
        assertThat(Files.getPosixFilePermissions(readable)).isEqualTo(VmFiles.OWNER_ONLY_FILE);

        Path target = dir.resolve("someone-elses");
        Files.writeString(target, "keep me");
        Files.setPosixFilePermissions(target, VmFiles.OWNER_ONLY_FILE);
        Path link = dir.resolve("console.log");
        Files.createSymbolicLink(link, target);
        VmFiles.emptyOwnerOnly(link);
        assertThat(Files.isSymbolicLink(link)).isFalse();
        assertThat(Files.isRegularFile(link, LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(link).isEmptyFile();
        assertThat(target).hasContent("keep me");
    }
}
