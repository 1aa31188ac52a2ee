package io.horcrux.postgres;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A PostgreSQL server of the test's own, made with Debian's {@code initdb} and run with its
 * {@code pg_ctl} (under {@code /usr/lib/postgresql/<version>/bin}, installed by
 * {@code scripts/setup-debian}), on a free port of 127.0.0.1, so that a test may restart it
 * without touching the shared server. As root (in CI) the server runs as the {@code postgres}
 * user, which PostgreSQL requires; otherwise as the test's user. Trust authentication for the
 * role {@code horcrux}, local connections only; everything is removed on {@link #close()}.
 */
final class DedicatedPostgres implements AutoCloseable {
    private final Path bin;
    private final Path dir;
    private final int port;
    private final boolean asPostgres;

    private DedicatedPostgres(Path bin, Path dir, int port, boolean asPostgres) {
        this.bin = bin;
        this.dir = dir;
        this.port = port;
        this.asPostgres = asPostgres;
    }

    static DedicatedPostgres start() throws IOException, InterruptedException {
        Path bin = newestBin();
        boolean root = "root".equals(System.getProperty("user.name"));
        Path dir = Files.createTempDirectory("horcrux-pg-");
        if (root) {
            UserPrincipal postgres = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
            Files.setOwner(dir, postgres);
        }
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        DedicatedPostgres server = new DedicatedPostgres(bin, dir, port, root);
        server.run(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U", "horcrux",
                "--auth=trust", "--no-sync", "-E", "UTF8"));
        server.pgCtl("start");
        return server;
    }

    private static Path newestBin() throws IOException {
        Path root = Path.of("/usr/lib/postgresql");
        List<Path> versions = new ArrayList<>();
        if (Files.isDirectory(root)) {
            try (DirectoryStream<Path> all = Files.newDirectoryStream(root)) {
                all.forEach(v -> {
                    if (Files.isExecutable(v.resolve("bin/initdb"))) {
                        versions.add(v);
                    }
                });
            }
        }
        if (versions.isEmpty()) {
            throw new IllegalStateException("no /usr/lib/postgresql/<version>/bin/initdb: run scripts/setup-debian,"
                    + " which installs Debian's PostgreSQL server");
        }
        versions.sort((a, b) -> Integer.compare(Integer.parseInt(a.getFileName().toString()),
                Integer.parseInt(b.getFileName().toString())));
        return versions.get(versions.size() - 1).resolve("bin");
    }

    String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
    }

    /** Restarts the server: every session is cut, as in a crash of the database host's service. */
    void restart() throws IOException, InterruptedException {
        pgCtl("restart", "-m", "fast");
    }

    private void pgCtl(String action, String... more) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(bin.resolve("pg_ctl").toString(), action, "-w", "-t", "60",
                "-D", dir.resolve("data").toString(), "-l", dir.resolve("server.log").toString(),
                "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=on"));
        command.addAll(List.of(more));
        run(command);
    }

    private void run(List<String> command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if (asPostgres) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        Path out = Files.createTempFile("horcrux-pg-cmd-", ".log");
        try {
            Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish: " + Files.readString(out));
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed (" + p.exitValue() + "): "
                        + Files.readString(out));
            }
        } finally {
            Files.deleteIfExists(out);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            pgCtl("stop", "-m", "immediate");
        } finally {
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
}
