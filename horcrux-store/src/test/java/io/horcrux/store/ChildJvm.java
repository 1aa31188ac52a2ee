package io.horcrux.store;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A {@link StoreChild} in its own JVM, on this test's classpath; its stderr goes to a file. */
final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final BufferedReader stdout;
    private final Path stderr;

    private ChildJvm(Process process, Path stderr) {
        this.process = process;
        this.stdout = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.stderr = stderr;
    }

    static ChildJvm start(Path workDir, String maxHeap, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.add("-Xmx" + maxHeap);
        command.add("-XX:+UseSerialGC");
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(StoreChild.class.getName());
        command.addAll(List.of(args));
        Path stderr = Files.createTempFile(workDir, "child-", ".stderr");
        Process process = new ProcessBuilder(command)
                .redirectError(stderr.toFile())
                .start();
        return new ChildJvm(process, stderr);
    }

    long pid() {
        return process.pid();
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

    void closeStdin() throws IOException {
        process.getOutputStream().close();
    }

    int waitFor() throws InterruptedException {
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("child " + process.pid() + " did not exit within 120 s");
        }
        return process.exitValue();
    }

    String stderr() throws IOException {
        return Files.readString(stderr);
    }

    @Override
    public void close() throws IOException {
        process.destroyForcibly();
        stdout.close();
    }
}
