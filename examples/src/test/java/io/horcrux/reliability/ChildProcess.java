package io.horcrux.reliability;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A main class of these tests in its own JVM, on this test's classpath; stderr goes to a file. */
final class ChildProcess implements AutoCloseable {
    private final Process process;
    private final BufferedReader stdout;
    private final Path stderr;

    private ChildProcess(Process process, Path stderr) {
        this.process = process;
        this.stdout = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.stderr = stderr;
    }

    static ChildProcess start(Path workDir, Class<?> main, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.add("-Xmx96m");
        command.add("-XX:+UseSerialGC");
        command.add("-XX:TieredStopAtLevel=1");
        command.add("-Xshare:auto");
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        // sqlite-jdbc unpacks its native library into the temporary directory and only a clean
        // exit removes it: a killed child would leave one behind in /tmp each time.
        command.add("-Dorg.sqlite.tmpdir=" + workDir);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(List.of(args));
        Path stderr = Files.createTempFile(workDir, "child-", ".stderr");
        Process process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        return new ChildProcess(process, stderr);
    }

    /** The next line of stdout, or null at its end. */
    String readLine() throws IOException {
        return stdout.readLine();
    }

    /** Every line left on stdout, up to the child's exit. */
    List<String> remainingLines() throws IOException {
        List<String> lines = new ArrayList<>();
        for (String line = stdout.readLine(); line != null; line = stdout.readLine()) {
            lines.add(line);
        }
        return lines;
    }

    /**
     * SIGKILL, and wait until the process is gone. Through the process handle, which unlike
     * {@link Process#destroyForcibly()} leaves stdout open for what the child wrote before dying.
     */
    void kill() throws InterruptedException {
        process.toHandle().destroyForcibly();
        process.waitFor();
    }

    String stderr() throws IOException {
        return Files.readString(stderr);
    }

    @Override
    public void close() throws IOException {
        process.destroyForcibly();
        stdout.close();
        process.getOutputStream().close();
    }
}
