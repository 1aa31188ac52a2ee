package io.horcrux.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test's main class in its own JVM, on the test's class path, for tests that kill a real
 * process (SIGKILL) and look at what it left. Its stdout is read line by line; its stderr goes
 * to a file in the work directory.
 */
public final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final BufferedReader stdout;
    private final Path stderr;

    private ChildJvm(Process process, Path stderr) {
        this.process = process;
        this.stdout = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.stderr = stderr;
    }

    /** Starts {@code main} with {@code args} in a JVM of at most {@code maxHeap} (for example {@code "128m"}). */
    public static ChildJvm start(Path workDir, Class<?> main, String maxHeap, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.add("-Xmx" + maxHeap);
        command.add("-XX:+UseSerialGC");
        command.add("-XX:TieredStopAtLevel=1");
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
        return new ChildJvm(process, stderr);
    }

    public long pid() {
        return process.pid();
    }

    /** The next line of stdout, or null at its end. */
    public String readLine() throws IOException {
        return stdout.readLine();
    }

    /** Every line left on stdout, up to the child's exit. */
    public List<String> remainingLines() throws IOException {
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
    public void kill() throws InterruptedException {
        process.toHandle().destroyForcibly();
        process.waitFor();
    }

    /** Writes one line to the child's stdin, flushed. */
    public void writeLine(String line) throws IOException {
        process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().flush();
    }

    public void closeStdin() throws IOException {
        process.getOutputStream().close();
    }

    /** Waits up to 120 s for the child to exit and returns its exit code. */
    public int waitFor() throws InterruptedException {
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("child " + process.pid() + " did not exit within 120 s");
        }
        return process.exitValue();
    }

    /** What the child wrote to stderr so far. */
    public String stderr() throws IOException {
        return Files.readString(stderr);
    }

    @Override
    public void close() throws IOException {
        process.destroyForcibly();
        stdout.close();
        process.getOutputStream().close();
    }
}
