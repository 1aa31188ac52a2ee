package io.horcrux;

import io.horcrux.internal.HostWatchdog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's side of its {@link HostWatchdog}: starts the watchdog's process (the JVM this
 * one runs on, with only this library's core on its class path) and rewrites its feed file
 * atomically with the fencing deadline, the processes to fence and the fencing marks of the
 * VMs whose processes may run.
 */
final class WatchdogFeed implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final String host;
    private final Path feed;
    private final Process process;

    private WatchdogFeed(String host, Path feed, Process process) {
        this.host = host;
        this.feed = feed;
        this.process = process;
    }

    /** Writes a first feed with {@code deadlineNanos} and starts the watchdog on it. */
    static WatchdogFeed start(String host, long deadlineNanos) {
        try {
            Path feed = Files.createTempFile("horcrux-fence-" + host + "-", ".feed");
            write(feed, deadlineNanos, List.of(), List.of());
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Path classes = Path.of(HostWatchdog.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            List<String> command = List.of(java.toString(), "-Xmx16m", "-Xss256k", "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-cp", classes.toString(),
                    HostWatchdog.class.getName(), feed.toString());
            Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).redirectInput(ProcessBuilder.Redirect.from(nullFile()))
                    .start();
            log.info("host {}: watchdog started, pid {}, feed {}", host, process.pid(), feed);
            return new WatchdogFeed(host, feed, process);
        } catch (IOException e) {
            throw new UncheckedIOException("host " + host + ": cannot start its watchdog", e);
        } catch (URISyntaxException | RuntimeException e) {
            throw new IllegalStateException("host " + host + ": cannot find this library's classes for its watchdog", e);
        }
    }

    private static java.io.File nullFile() {
        return new java.io.File("/dev/null");
    }

    /** The watchdog's pid. */
    long pid() {
        return process.pid();
    }

    /**
     * Pushes the deadline to {@code deadlineNanos} and names the processes to fence by then:
     * those of {@code pids}, and every one whose command line holds one of {@code marks}. When
     * this returns the watchdog's next look sees it.
     */
    void feed(long deadlineNanos, Collection<Long> pids, Collection<String> marks) {
        try {
            write(feed, deadlineNanos, pids, marks);
        } catch (IOException e) {
            log.warn("host {}: could not feed its watchdog (it fences at the deadline it has)", host, e);
        }
    }

    private static void write(Path feed, long deadlineNanos, Collection<Long> pids, Collection<String> marks)
            throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add("deadline " + deadlineNanos);
        lines.add("manager " + ProcessHandle.current().pid() + " "
                + ProcessHandle.current().info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L));
        for (long pid : pids) {
            ProcessHandle.of(pid).flatMap(h -> h.info().startInstant())
                    .ifPresent(start -> lines.add("pid " + pid + " " + start.toEpochMilli()));
        }
        for (String mark : marks) {
            lines.add("mark " + mark);
        }
        Path next = feed.resolveSibling(feed.getFileName() + ".next");
        Files.write(next, lines, StandardCharsets.UTF_8);
        Files.move(next, feed, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Disarms the watchdog (the manager closed cleanly) and waits briefly for it to exit. */
    @Override
    public void close() {
        try {
            Path next = feed.resolveSibling(feed.getFileName() + ".next");
            Files.writeString(next, "disarm\n", StandardCharsets.UTF_8);
            Files.move(next, feed, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (IOException e) {
            log.warn("host {}: could not disarm its watchdog; killing it", host, e);
            process.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
