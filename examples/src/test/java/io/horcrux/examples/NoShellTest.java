package io.horcrux.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Horcrux never runs a shell: no library class calls {@code Runtime.exec(String)} (which splits
 * a command line on spaces) or names a shell. Processes get argument lists. The check reads
 * the bytecode of every library module on the class path.
 */
class NoShellTest {
    private static final List<String> FORBIDDEN = List.of(
            "(Ljava/lang/String;)Ljava/lang/Process;",                      // Runtime.exec(String)
            "(Ljava/lang/String;[Ljava/lang/String;)Ljava/lang/Process;",   // Runtime.exec(String, String[])
            "(Ljava/lang/String;[Ljava/lang/String;Ljava/io/File;)Ljava/lang/Process;",
            "/bin/sh", "/bin/bash", "sh -c");

    @Test
    void noLibraryClassRunsAShell() throws IOException {
        List<String> libraryEntries = new ArrayList<>();
        List<String> offenders = new ArrayList<>();
        int classes = 0;
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (!entry.matches(".*horcrux-(core|testkit|store|qemu).*") || entry.contains("test-classes") || entry.endsWith("tests.jar")) {
                continue;
            }
            libraryEntries.add(entry);
            Path path = Path.of(entry);
            if (Files.isDirectory(path)) {
                try (Stream<Path> files = Files.walk(path)) {
                    for (Path file : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                        classes++;
                        check(file.toString(), Files.readAllBytes(file), offenders);
                    }
                }
            } else {
                try (JarFile jar = new JarFile(path.toFile())) {
                    for (JarEntry e : java.util.Collections.list(jar.entries())) {
                        if (e.getName().endsWith(".class")) {
                            classes++;
                            try (InputStream in = jar.getInputStream(e)) {
                                check(entry + "!" + e.getName(), in.readAllBytes(), offenders);
                            }
                        }
                    }
                }
            }
        }
        assertThat(libraryEntries).as("library modules on the class path").hasSizeGreaterThanOrEqualTo(1);
        assertThat(classes).isGreaterThan(20);
        assertThat(offenders).isEmpty();
    }

    @Test
    void theCheckRecognisesAShellCall() {
        List<String> offenders = new ArrayList<>();
        check("Bad.class", "\u0004exec(Ljava/lang/String;)Ljava/lang/Process;".getBytes(StandardCharsets.ISO_8859_1), offenders);
        check("Worse.class", "\u0001/bin/sh\u0001-c".getBytes(StandardCharsets.ISO_8859_1), offenders);
        check("Good.class", "([Ljava/lang/String;)Ljava/lang/ProcessBuilder;".getBytes(StandardCharsets.ISO_8859_1), offenders);
        assertThat(offenders).containsExactly("Bad.class contains (Ljava/lang/String;)Ljava/lang/Process;",
                "Worse.class contains /bin/sh");
    }

    private static void check(String name, byte[] classFile, List<String> offenders) {
        // Constant-pool strings are modified UTF-8, which equals ISO-8859-1 for these ASCII needles.
        String text = new String(classFile, StandardCharsets.ISO_8859_1);
        for (String needle : FORBIDDEN) {
            if (text.contains(needle)) {
                offenders.add(name + " contains " + needle);
            }
        }
    }
}
