package io.horcrux.reliability;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;

/** Where the reliability tests keep their data: {@code target/reliability/<name><n>}, owner-only. */
final class ReliabilityDirectories {
    static final Path ROOT = Path.of("target", "reliability").toAbsolutePath();

    private ReliabilityDirectories() {
    }

    static Path create(String name) throws IOException {
        Files.createDirectories(ROOT);
        for (int i = 0; ; i++) {
            Path dir = ROOT.resolve(name + i);
            if (!Files.exists(dir)) {
                return Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
            }
        }
    }

    static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
