package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the state directory says is provisioned, asked of one VM, answers as its listing does. */
class StateDirectoryTest {
    @TempDir
    Path dir;

    @Test
    void aVmIsProvisionedWhenItsDirectoryIsThereAndNothingElseIs() throws Exception {
        try (StateDirectory state = StateDirectory.claim(dir.resolve("state"))) {
            Path root = state.path();
            Files.createDirectory(root.resolve("web-1"));
            Files.createDirectory(dir.resolve("elsewhere"));
            Files.createSymbolicLink(root.resolve("linked"), dir.resolve("elsewhere"));
            Files.createFile(root.resolve("plain-file"));
            Files.createDirectory(root.resolve("Not An Id"));
            state.probeDirectory();

            assertThat(state.provisionedIds()).containsExactly("web-1");
            for (String name : new String[] {"web-1", "linked", "plain-file", "Not An Id", StateDirectory.PROBE_DIRECTORY,
                    "missing", "..", "web-1/..", ""}) {
                assertThat(state.isProvisioned(name)).as(name).isEqualTo(state.provisionedIds().contains(name));
            }
        }
    }
}
