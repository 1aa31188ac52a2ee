package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class VmFilesTest {
    @Test
    void aShortStateDirectoryKeepsTheSocketInTheVmDirectory() {
        VmFiles files = VmFiles.of(Path.of("/var/lib/horcrux"), "web-1");
        assertThat(files.qmpSocket()).isEqualTo(Path.of("/var/lib/horcrux/web-1/qmp.sock"));
        assertThat(files.socketOutsideDirectory()).isFalse();
        assertThat(files.pidFile()).isEqualTo(Path.of("/var/lib/horcrux/web-1/qemu.pid"));
    }

    @Test
    void aDeepStateDirectoryMovesTheSocketToAShortStableDirectory() {
        Path deep = Path.of("/srv/" + "very-long-directory-name/".repeat(8));
        String id = "a".repeat(63);
        VmFiles files = VmFiles.of(deep, id);
        assertThat(files.socketOutsideDirectory()).isTrue();
        assertThat(files.qmpSocket().toString().getBytes(StandardCharsets.UTF_8).length)
                .isLessThanOrEqualTo(VmFiles.MAX_SOCKET_PATH_BYTES);
        assertThat(files.qmpSocket().getFileName().toString()).isEqualTo(id + ".qmp");
        assertThat(VmFiles.of(deep, id)).isEqualTo(files);
        assertThat(VmFiles.of(Path.of(deep + "2"), id).qmpSocket().getParent()).isNotEqualTo(files.qmpSocket().getParent());
    }
}
