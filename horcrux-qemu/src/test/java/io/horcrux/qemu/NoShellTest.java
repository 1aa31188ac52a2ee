package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Processes get argument lists: no source of the driver may run a command line through a shell. */
class NoShellTest {
    private static final List<String> FORBIDDEN = List.of("Runtime.getRuntime()", ".exec(", "/bin/sh", "\"sh\"",
            "\"-c\"", "bash");

    @Test
    void noSourceRunsAShell() throws IOException {
        Path sources = Path.of("src", "main", "java");
        assertThat(sources).isDirectory();
        try (Stream<Path> files = Files.walk(sources)) {
            List<Path> java = files.filter(p -> p.toString().endsWith(".java")).toList();
            assertThat(java).isNotEmpty();
            for (Path file : java) {
                String text = Files.readString(file);
                for (String pattern : FORBIDDEN) {
                    assertThat(text).as(file + " must not contain " + pattern).doesNotContain(pattern);
                }
                assertThat(text).as(file + " must start processes from argument lists")
                        .doesNotContainPattern("new ProcessBuilder\\(\\s*\"");
            }
        }
    }
}
