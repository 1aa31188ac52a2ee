package io.horcrux.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * What {@code /proc} says about a host process, and how to end one: for drivers whose VMs are
 * host processes that are not the JVM's children (a daemonized QEMU, for one). The PID 1 of a
 * container may reap such a process late, so "gone" means: absent, a zombie whose threads have
 * all exited (so its files and locks are released), or a different process under the same pid
 * (its start time differs). A process is named by its pid and its
 * start time together, so a pid the kernel reuses is never signalled by mistake.
 */
public final class HostProcess {
    private HostProcess() {
    }

    /** Fields of {@code /proc/<pid>/stat}: the state letter and the start time in clock ticks. */
    public record Stat(char state, long startTicks) {
        /** Whether the process has exited and waits to be reaped. */
        public boolean isZombie() {
            return state == 'Z' || state == 'X' || state == 'x';
        }
    }

    /** The process's state and start time; empty when it is gone or unreadable. */
    public static Optional<Stat> stat(long pid) {
        String text;
        try {
            text = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return Optional.empty();
        }
        // The command name (field 2) is in parentheses and may hold spaces or ')'.
        int close = text.lastIndexOf(')');
        if (close < 0 || close + 2 >= text.length()) {
            return Optional.empty();
        }
        String[] fields = text.substring(close + 2).trim().split(" ");
        // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
        if (fields.length < 20) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Stat(fields[0].charAt(0), Long.parseLong(fields[19])));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Whether the process started at {@code startTicks} no longer runs. */
    public static boolean isGone(long pid, long startTicks) {
        Optional<Stat> stat = stat(pid);
        if (stat.isEmpty() || stat.get().startTicks() != startTicks) {
            return true;
        }
        // A zombie leader may wait for its other threads to exit (a vCPU thread tearing down its
        // KVM state, say), and they still hold the process's files and locks until they do.
        return stat.get().isZombie() && !hasOtherThreads(pid);
    }

    /** Whether threads other than the leader are still listed for the process. */
    private static boolean hasOtherThreads(long pid) {
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
            String leader = Long.toString(pid);
            for (Path task : tasks) {
                if (!task.getFileName().toString().equals(leader)) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return false; // gone meanwhile
        }
    }

    /** The arguments of a process, empty when it is gone or unreadable. */
    public static List<String> commandLine(long pid) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
        } catch (IOException e) {
            return List.of();
        }
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                args.add(new String(bytes, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < bytes.length) {
            args.add(new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8));
        }
        return args;
    }

    /**
     * The live (not zombie) processes whose arguments match: for finding a process whose pid is
     * not known, such as a QEMU that removed its pidfile as it exited.
     *
     * @throws UncheckedIOException if {@code /proc} cannot be listed
     */
    public static List<Long> find(Predicate<List<String>> arguments) {
        List<Long> found = new ArrayList<>();
        try (DirectoryStream<Path> proc = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path entry : proc) {
                long pid = Long.parseLong(entry.getFileName().toString());
                List<String> args = commandLine(pid);
                if (!args.isEmpty() && arguments.test(args) && stat(pid).filter(s -> !s.isZombie()).isPresent()) {
                    found.add(pid);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list /proc", e);
        }
        return found;
    }

    /** Sends SIGTERM ({@code force = false}) or SIGKILL to the process, if it is still the same one. */
    public static void signal(long pid, long startTicks, boolean force) {
        if (isGone(pid, startTicks)) {
            return;
        }
        ProcessHandle.of(pid).ifPresent(handle -> {
            if (force) {
                handle.destroyForcibly();
            } else {
                handle.destroy();
            }
        });
    }

    /**
     * Ends the process with SIGTERM, waiting up to {@code wait} for it to go, then with SIGKILL,
     * waiting as long again; returns how it ended: {@code "already gone"}, {@code "SIGTERM"} or
     * {@code "SIGKILL"}.
     *
     * @return how the process ended, or empty if it survived SIGKILL
     */
    public static Optional<String> endWithSignals(long pid, long startTicks, Duration wait) throws InterruptedException {
        if (isGone(pid, startTicks)) {
            return Optional.of("already gone");
        }
        signal(pid, startTicks, false);
        if (awaitGone(pid, startTicks, wait)) {
            return Optional.of("SIGTERM");
        }
        signal(pid, startTicks, true);
        if (awaitGone(pid, startTicks, wait)) {
            return Optional.of("SIGKILL");
        }
        return Optional.empty();
    }

    /** Waits up to {@code timeout} for the process to be gone; whether it is. */
    public static boolean awaitGone(long pid, long startTicks, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!isGone(pid, startTicks)) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }
}
