package io.horcrux.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * What a test suite must not leave behind, checked from outside the library: QEMU processes
 * whose command line mentions the module's directory, live threads named {@code horcrux-*},
 * HikariCP pool threads (an open pool has a {@code housekeeper}), and QMP socket directories
 * {@code /tmp/horcrux-<hash>} made since the JVM started. A last-ordered test class in each
 * test JVM calls {@link #assertClean(Path)}.
 */
public final class ResourceHygiene {
    private static final Pattern SOCKET_DIRECTORY = Pattern.compile("horcrux-[0-9a-f]{12}");
    private static final long SETTLE_SECONDS = 10;
    private static final Duration SETTLE = Duration.ofSeconds(SETTLE_SECONDS);

    private final Path moduleDirectory;
    private final Path temporaryDirectory;
    private final Instant since;

    /** A checker of QEMUs under {@code moduleDirectory} and socket directories in {@code temporaryDirectory} since {@code since}. */
    public ResourceHygiene(Path moduleDirectory, Path temporaryDirectory, Instant since) {
        this.moduleDirectory = moduleDirectory.toAbsolutePath();
        this.temporaryDirectory = temporaryDirectory;
        this.since = since;
    }

    /** The checker for this JVM: files since its start, in {@code /tmp}. */
    public static ResourceHygiene forThisJvm(Path moduleDirectory) {
        return new ResourceHygiene(moduleDirectory, Path.of("/tmp"),
                Instant.ofEpochMilli(ManagementFactory.getRuntimeMXBean().getStartTime()));
    }

    /**
     * Waits up to {@value #SETTLE_SECONDS} s for threads that were told to end, then fails with
     * every violation found. QEMU processes found are killed so later modules start clean.
     */
    public static void assertClean(Path moduleDirectory) {
        ResourceHygiene hygiene = forThisJvm(moduleDirectory);
        List<String> found = hygiene.violationsAfterSettling();
        hygiene.killQemus();
        if (!found.isEmpty()) {
            throw new AssertionError("the test suite left resources behind:\n  " + String.join("\n  ", found));
        }
    }

    /** The violations that remain after up to {@value #SETTLE_SECONDS} s of waiting for them to go. */
    public List<String> violationsAfterSettling() {
        return afterSettling(this::violations);
    }

    /** What {@code check} still finds after up to {@value #SETTLE_SECONDS} s of asking again. */
    static List<String> afterSettling(Supplier<List<String>> check) {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        List<String> found = check.get();
        while (!found.isEmpty() && System.nanoTime() - deadline < 0) {
            try {
                TimeUnit.MILLISECONDS.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            found = check.get();
        }
        return found;
    }

    /** Every violation now. */
    public List<String> violations() {
        List<String> found = new ArrayList<>();
        for (long pid : qemus()) {
            found.add("QEMU process " + pid + ": " + String.join(" ", commandLine(pid)));
        }
        found.addAll(threadViolations(Set.of()));
        try (DirectoryStream<Path> tmp = Files.newDirectoryStream(temporaryDirectory, "horcrux-*")) {
            for (Path p : tmp) {
                if (SOCKET_DIRECTORY.matcher(p.getFileName().toString()).matches()
                        && Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).compareTo(FileTime.from(since)) >= 0) {
                    found.add("QMP socket directory " + p + " left in " + temporaryDirectory);
                }
            }
        } catch (IOException e) {
            found.add("cannot list " + temporaryDirectory + ": " + e);
        }
        return found;
    }

    /**
     * Live threads named {@code horcrux-*} and HikariCP pool threads, but those in {@code ignored}
     * (for example the threads that lived before a test).
     */
    static List<String> threadViolations(Set<Thread> ignored) {
        List<String> found = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            if (!t.isAlive() || ignored.contains(t)) {
                continue;
            }
            if (name.startsWith("horcrux-")) {
                found.add("thread '" + name + "' (" + (t.isDaemon() ? "daemon" : "non-daemon") + ", " + t.getState() + ")");
            } else if (name.endsWith(" housekeeper") || name.endsWith(" connection adder")
                    || name.endsWith(" connection closer")) {
                found.add("HikariCP pool thread '" + name + "': a store was not closed");
            }
        }
        return found;
    }

    /** Live (not zombie) QEMU processes whose command line mentions the module's directory. */
    private List<Long> qemus() {
        List<Long> found = new ArrayList<>();
        try (DirectoryStream<Path> proc = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : proc) {
                long pid = Long.parseLong(p.getFileName().toString());
                List<String> args = commandLine(pid);
                if (!args.isEmpty() && args.get(0).contains("qemu-system") && !isZombie(pid)
                        && args.stream().anyMatch(a -> a.contains(moduleDirectory.toString()))) {
                    found.add(pid);
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return found;
    }

    private static List<String> commandLine(long pid) {
        try {
            String raw = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8);
            return raw.isEmpty() ? List.of() : List.of(raw.split("\u0000"));
        } catch (IOException gone) {
            return List.of();
        }
    }

    private static boolean isZombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
        } catch (IOException | RuntimeException gone) {
            return true;
        }
    }

    private void killQemus() {
        qemus().forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
    }
}
