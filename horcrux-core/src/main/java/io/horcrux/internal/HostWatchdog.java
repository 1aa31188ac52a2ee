package io.horcrux.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The fence that outlives a frozen or killed manager: a small process of its own (this class's
 * {@link #main}, in a JVM of its own, on nothing but {@code java.base}) that force-kills the
 * hypervisor processes of a host once that host's fencing deadline passes without being pushed
 * back. A manager on a shared store starts one when it takes its lease, and rewrites its feed
 * file after every renewal and every start: the deadline (on the machine's monotonic clock,
 * which {@link System#nanoTime()} reads in every JVM of the machine), the manager's pid, and
 * the processes to fence, each with its start time so that a reused pid is never killed. A
 * thread in the manager cannot do this: a frozen JVM (SIGSTOP, a stalled VM, a
 * swap storm) runs none of its threads, and a killed one leaves its QEMUs running.
 *
 * <p>A pid is known only once a start returned, and a JVM may freeze between the fork of a
 * hypervisor process and that moment. So the manager also names, before each start forks
 * anything, the VM's fencing mark ({@link io.horcrux.spi.VmDriver#fencingMark}): an argument
 * that every process of that VM on this host's driver carries. Past the deadline the watchdog
 * kills, besides the listed pids, every process whose command line holds a mark, found in
 * {@code /proc} at every tick, until one scan finds none left; it scans nothing before the
 * deadline. Marks, like pids, are remembered once fed: each names only this host's processes of
 * one VM. Because the scan ends once the marked processes are gone, a manager that replaces a
 * dead one on the same host and state (an application restarted) keeps the VMs it starts after
 * the old deadline; those it runs at that deadline (reattached ones as well) are killed, as they
 * were by pid before.
 *
 * <p>Feed format, UTF-8 lines: {@code deadline <nanos>}, {@code manager <pid> <start-epoch-millis>}, then
 * {@code pid <pid> <start-epoch-millis>} per process and {@code mark <argument>} per VM (the
 * rest of the line); or the single line {@code disarm} (the manager closed cleanly), which ends
 * the watchdog. It exits too once the manager is gone and nothing is left to fence. It prints
 * nothing.
 */
public final class HostWatchdog {
    /** How often the watchdog looks, in milliseconds. */
    static final long TICK_MILLIS = 20;

    private final Path feed;
    private final Map<Long, Instant> fenced = new HashMap<>();
    private final Set<String> marks = new HashSet<>();
    /** Whether a scan past the current deadline found no marked process left. */
    private boolean marksDone;
    private long deadline = Long.MAX_VALUE;
    private long manager = -1;
    private Instant managerStart;

    private HostWatchdog(Path feed) {
        this.feed = feed;
    }

    /** Runs the watchdog of the feed file {@code args[0]} until it is disarmed or has nothing left to guard. */
    public static void main(String[] args) throws InterruptedException {
        Path feed = Path.of(args[0]);
        try {
            new HostWatchdog(feed).run();
        } finally {
            try {
                Files.deleteIfExists(feed);
            } catch (IOException e) {
                // left in the temporary directory; harmless
            }
        }
    }

    private void run() throws InterruptedException {
        while (true) {
            if (!read()) {
                return; // disarmed
            }
            boolean managerAlive = managerStart != null && sameProcess(manager, managerStart);
            fenced.entrySet().removeIf(e -> !sameProcess(e.getKey(), e.getValue()));
            boolean marked = false;
            if (System.nanoTime() - deadline > 0) {
                for (Map.Entry<Long, Instant> p : fenced.entrySet()) {
                    ProcessHandle.of(p.getKey()).filter(h -> sameProcess(p.getKey(), p.getValue()))
                            .ifPresent(ProcessHandle::destroyForcibly);
                }
                if (!marksDone) {
                    marked = killMarked();
                    marksDone = !marked; // one scan that finds none ends it, until a new deadline passes
                }
            }
            if (!managerAlive && fenced.isEmpty() && !marked && System.nanoTime() - deadline > 0) {
                return;
            }
            Thread.sleep(TICK_MILLIS);
        }
    }

    /** Reads the feed; false when disarmed. An unreadable feed keeps what was read last. */
    private boolean read() {
        List<String> lines;
        try {
            lines = Files.readAllLines(feed, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return true; // not written yet, or being replaced
        } catch (IOException e) {
            return true;
        }
        Map<Long, Instant> listed = new HashMap<>();
        for (String line : lines) {
            String[] f = line.strip().split(" ");
            try {
                switch (f[0]) {
                    case "disarm" -> {
                        return false;
                    }
                    case "deadline" -> {
                        long next = Long.parseLong(f[1]);
                        if (next != deadline) {
                            deadline = next;
                            marksDone = false;
                        }
                    }
                    case "manager" -> {
                        manager = Long.parseLong(f[1]);
                        managerStart = Instant.ofEpochMilli(Long.parseLong(f[2]));
                    }
                    case "pid" -> listed.put(Long.parseLong(f[1]), Instant.ofEpochMilli(Long.parseLong(f[2])));
                    case "mark" -> {
                        String mark = line.substring("mark ".length());
                        if (!mark.isEmpty()) {
                            marks.add(mark);
                        }
                    }
                    default -> {
                        // a line of a later version: ignored
                    }
                }
            } catch (RuntimeException malformed) {
                // a torn or foreign line: ignored, the rest still counts
            }
        }
        listed.forEach(fenced::putIfAbsent);
        return true;
    }

    /**
     * Kills every live process whose arguments hold one of the marks; true if it found any. Each
     * is named by its pid and start time, read before its arguments are checked again, so a pid
     * reused meanwhile is not signalled.
     */
    private boolean killMarked() {
        if (marks.isEmpty()) {
            return false;
        }
        List<Long> found;
        try {
            found = HostProcess.find(this::carriesMark);
        } catch (java.io.UncheckedIOException e) {
            return true; // /proc unreadable for a moment: look again at the next tick
        }
        for (long pid : found) {
            HostProcess.stat(pid).ifPresent(stat -> {
                if (carriesMark(HostProcess.commandLine(pid))) {
                    HostProcess.signal(pid, stat.startTicks(), true);
                }
            });
        }
        return !found.isEmpty();
    }

    private boolean carriesMark(List<String> args) {
        for (String arg : args) {
            if (marks.contains(arg)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code pid} is still the process that started at {@code start} (pids are reused). */
    private static boolean sameProcess(long pid, Instant start) {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .flatMap(h -> h.info().startInstant())
                .map(s -> Math.abs(s.toEpochMilli() - start.toEpochMilli()) < 1000)
                .orElse(false);
    }
}
