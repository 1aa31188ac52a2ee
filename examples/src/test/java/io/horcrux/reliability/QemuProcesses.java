package io.horcrux.reliability;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** What {@code /proc} says about QEMU processes: the tests' independent view, not the driver's. */
public final class QemuProcesses {
    private QemuProcesses() {
    }

    /**
     * Live (not zombie) {@code qemu-system-*} processes whose command line mentions {@code under},
     * by pid, each with the VM id of its {@code -name guest=<id>} argument (empty if it has none).
     */
    public static Map<Long, String> under(Path under) {
        Map<Long, String> found = new TreeMap<>();
        String mark = under.toAbsolutePath().toString();
        try (DirectoryStream<Path> proc = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : proc) {
                long pid = Long.parseLong(p.getFileName().toString());
                List<String> args = commandLine(pid);
                if (args.isEmpty() || !args.get(0).contains("qemu-system") || !isAlive(pid)
                        || args.stream().noneMatch(a -> a.contains(mark))) {
                    continue;
                }
                found.put(pid, guestName(args));
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return found;
    }

    /** The arguments of a process, empty if it is gone or unreadable. */
    public static List<String> commandLine(long pid) {
        try {
            String raw = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                    StandardCharsets.UTF_8);
            return raw.isEmpty() ? List.of() : Arrays.asList(raw.split("\0"));
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Whether the process exists and is not a zombie. */
    public static boolean isAlive(long pid) {
        return state(pid).filter(s -> s != 'Z' && s != 'X').isPresent();
    }

    /** The one-letter state from {@code /proc/<pid>/stat}. */
    static Optional<Character> state(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.UTF_8);
            int end = stat.lastIndexOf(')');
            return end < 0 || end + 2 >= stat.length() ? Optional.empty() : Optional.of(stat.charAt(end + 2));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The real user id of a process, from {@code /proc/<pid>/status}. */
    public static Optional<Integer> uid(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("Uid:")) {
                    return Optional.of(Integer.parseInt(line.substring(4).strip().split("\\s+")[0]));
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    static String guestName(List<String> args) {
        int i = args.indexOf("-name");
        if (i < 0 || i + 1 >= args.size()) {
            return "";
        }
        String value = args.get(i + 1);
        if (!value.startsWith("guest=")) {
            return "";
        }
        int comma = value.indexOf(',', 6);
        return comma < 0 ? value.substring(6) : value.substring(6, comma);
    }

    /** SIGKILLs every QEMU under {@code under} and waits for them to go; returns how many there were. */
    public static int killAll(Path under) {
        Map<Long, String> left = under(under);
        left.keySet().forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!under(under).isEmpty() && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L);
        }
        return left.size();
    }
}
