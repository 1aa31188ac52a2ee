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
}
