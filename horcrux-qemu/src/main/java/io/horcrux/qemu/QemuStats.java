package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.horcrux.DriverException;
import io.horcrux.model.DiskStats;
import io.horcrux.model.VmStats;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a running QEMU's live stats: the vCPU threads' ids from {@code query-cpus-fast} and
 * their CPU time from {@code /proc/<pid>/task/<tid>/stat}, the resident memory from
 * {@code /proc/<pid>/status}, the uptime from the process's start time against
 * {@code /proc/uptime}, and each disk's counters from {@code query-blockstats}. The parsing is
 * separate from the reading, so that it can be tested on sample text.
 *
 * <p>{@code /proc} counts CPU and start times in clock ticks of {@code USER_HZ}, which the
 * Linux ABI fixes at 100 per second on every architecture (whatever the kernel's own tick
 * rate): {@link #USER_HZ}.
 */
final class QemuStats {
    /** Clock ticks per second of {@code /proc}'s times: the ABI value, not the kernel's HZ. */
    static final long USER_HZ = 100;
    private static final String PERIPHERAL = "/machine/peripheral/";

    private QemuStats() {
    }

    /**
     * Reads the stats of a process the driver runs, over its monitor and {@code /proc}.
     *
     * @throws DriverException if the monitor fails, or the process is gone or unreadable
     */
    static VmStats read(QemuProcess vm) {
        Set<Long> vcpuThreads = vcpuThreadIds(vm.qmp().execute("query-cpus-fast"));
        Map<String, DiskStats> disks = disks(vm.qmp().execute("query-blockstats"), vm.diskNames);
        Path proc = Path.of("/proc", Long.toString(vm.pid));
        try {
            long ticks = 0;
            for (long tid : vcpuThreads) {
                ticks += cpuTicks(Files.readString(proc.resolve("task").resolve(Long.toString(tid)).resolve("stat"),
                        StandardCharsets.ISO_8859_1));
            }
            long rss = rssBytes(Files.readString(proc.resolve("status"), StandardCharsets.ISO_8859_1));
            Duration uptime = uptime(Files.readString(Path.of("/proc/uptime"), StandardCharsets.ISO_8859_1),
                    vm.startTicks);
            if (vm.isGone()) {
                throw new DriverException("VM '" + vm.id + "': its QEMU (pid " + vm.pid + ") is gone");
            }
            return new VmStats(ticksToDuration(ticks), rss, uptime, disks);
        } catch (NoSuchFileException e) {
            throw new DriverException("VM '" + vm.id + "': " + (vm.isGone() ? "its QEMU (pid " + vm.pid + ") is gone"
                    : "cannot read the stats of its QEMU (pid " + vm.pid + ")") + ": " + e.getFile() + " is missing", e);
        } catch (IOException | IllegalArgumentException e) {
            throw new DriverException("VM '" + vm.id + "': cannot read the stats of its QEMU (pid " + vm.pid + "): "
                    + e.getMessage(), e);
        }
    }

    /**
     * The distinct host thread ids of the vCPUs in a {@code query-cpus-fast} reply (one thread
     * serves every vCPU under single-threaded TCG).
     *
     * @throws IllegalArgumentException if the reply is not an array of CPUs with thread ids
     */
    static Set<Long> vcpuThreadIds(JsonNode queryCpusFast) {
        if (!queryCpusFast.isArray()) {
            throw new IllegalArgumentException("query-cpus-fast did not return an array: " + queryCpusFast);
        }
        Set<Long> ids = new LinkedHashSet<>();
        for (JsonNode cpu : queryCpusFast) {
            JsonNode tid = cpu.path("thread-id");
            if (!tid.canConvertToLong() || tid.asLong() <= 0) {
                throw new IllegalArgumentException("query-cpus-fast gave a CPU without a thread id: " + cpu);
            }
            ids.add(tid.asLong());
        }
        return ids;
    }

    /**
     * Fields 14 and 15 ({@code utime}, {@code stime}) of a {@code /proc/.../stat} line, added: the
     * thread's CPU time in clock ticks.
     *
     * @throws IllegalArgumentException if the line does not have them
     */
    static long cpuTicks(String stat) {
        String[] fields = fieldsAfterName(stat);
        // fields[0] is field 3 (state): utime (14) is fields[11], stime (15) fields[12].
        if (fields.length < 13) {
            throw new IllegalArgumentException("a stat line without utime and stime: " + stat.strip());
        }
        return parseCount(fields[11], "utime") + parseCount(fields[12], "stime");
    }

    /**
     * The {@code VmRSS} of a {@code /proc/<pid>/status} text, in bytes.
     *
     * @throws IllegalArgumentException if it has no {@code VmRSS} line in kB
     */
    static long rssBytes(String status) {
        for (String line : status.split("\n")) {
            if (line.startsWith("VmRSS:")) {
                String[] parts = line.substring("VmRSS:".length()).trim().split("\\s+");
                if (parts.length != 2 || !parts[1].equals("kB")) {
                    throw new IllegalArgumentException("a VmRSS line not in kB: " + line);
                }
                return Math.multiplyExact(parseCount(parts[0], "VmRSS"), 1024L);
            }
        }
        throw new IllegalArgumentException("no VmRSS line in the process status (a kernel thread or a zombie?)");
    }

    /**
     * How long ago a process started {@code startTicks} after boot (field 22 of its stat line),
     * given {@code /proc/uptime} (seconds since boot with two decimals, then idle seconds). Never
     * negative: the two clocks are read at different times and rounded differently.
     *
     * @throws IllegalArgumentException if {@code procUptime} does not start with a number
     */
    static Duration uptime(String procUptime, long startTicks) {
        String first = procUptime.strip().split("\\s+")[0];
        long hostMillis;
        try {
            hostMillis = new java.math.BigDecimal(first).movePointRight(3).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("/proc/uptime does not start with seconds: " + procUptime.strip(), e);
        }
        long startedMillis = startTicks * 1000 / USER_HZ;
        return Duration.ofMillis(Math.max(0, hostMillis - startedMillis));
    }

    /**
     * The counters of each disk in a {@code query-blockstats} reply, by the disk's name: the
     * driver gives disk {@code N} of the spec the device id {@code diskN} (see
     * {@link QemuCommandLine}), which the entry's {@code qdev} path names
     * ({@code /machine/peripheral/diskN/virtio-backend}); an entry without it is matched by its
     * {@code node-name}. Entries of other devices are ignored; a disk without an entry has
     * zero counters.
     *
     * @param diskNames the spec's disk names, in the spec's order
     * @throws IllegalArgumentException if the reply is not an array or a counter is not a
     *                                  non-negative number
     */
    static Map<String, DiskStats> disks(JsonNode queryBlockstats, List<String> diskNames) {
        if (!queryBlockstats.isArray()) {
            throw new IllegalArgumentException("query-blockstats did not return an array: " + queryBlockstats);
        }
        Map<String, DiskStats> found = new LinkedHashMap<>();
        for (JsonNode entry : queryBlockstats) {
            int index = diskIndex(entry);
            if (index >= 0 && index < diskNames.size()) {
                JsonNode stats = entry.path("stats");
                found.put(diskNames.get(index), new DiskStats(counter(stats, "rd_bytes"), counter(stats, "wr_bytes"),
                        counter(stats, "rd_operations"), counter(stats, "wr_operations")));
            }
        }
        Map<String, DiskStats> disks = new LinkedHashMap<>();
        for (String name : diskNames) {
            disks.put(name, found.getOrDefault(name, DiskStats.ZERO));
        }
        return disks;
    }

    /** N of an entry whose device is {@code diskN}, or -1. */
    private static int diskIndex(JsonNode entry) {
        String id = "";
        String qdev = entry.path("qdev").asText("");
        if (qdev.startsWith(PERIPHERAL)) {
            int end = qdev.indexOf('/', PERIPHERAL.length());
            id = end < 0 ? qdev.substring(PERIPHERAL.length()) : qdev.substring(PERIPHERAL.length(), end);
        } else if (qdev.isEmpty()) {
            id = entry.path("node-name").asText("");
        }
        if (!id.matches("disk[0-9]{1,4}")) {
            return -1;
        }
        return Integer.parseInt(id.substring("disk".length()));
    }

    private static long counter(JsonNode stats, String field) {
        JsonNode value = stats.path(field);
        if (value.isMissingNode()) {
            return 0;
        }
        if (!value.canConvertToLong() || value.asLong() < 0) {
            throw new IllegalArgumentException("query-blockstats gave " + field + " = " + value);
        }
        return value.asLong();
    }

    private static Duration ticksToDuration(long ticks) {
        return Duration.ofMillis(Math.multiplyExact(ticks, 1000L / USER_HZ));
    }

    /** The fields after the command name (field 2), which is in parentheses and may hold spaces or ')'. */
    private static String[] fieldsAfterName(String stat) {
        int close = stat.lastIndexOf(')');
        if (close < 0 || close + 2 >= stat.length()) {
            throw new IllegalArgumentException("not a stat line: " + stat.strip());
        }
        return stat.substring(close + 2).trim().split(" ");
    }

    private static long parseCount(String text, String what) {
        try {
            long value = Long.parseLong(text);
            if (value < 0) {
                throw new IllegalArgumentException(what + " is negative: " + text);
            }
            return value;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " is not a number: " + text, e);
        }
    }
}
