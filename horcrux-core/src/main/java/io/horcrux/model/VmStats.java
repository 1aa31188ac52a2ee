package io.horcrux.model;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a running (or paused) VM has used since its process started, read at one moment by
 * {@code VmManager.stats(id)}. Every figure but the memory only grows while the process runs;
 * all begin again with the next start. Two readings a known time apart give rates.
 *
 * @param cpuTime        CPU time the VM's virtual CPUs have used on the host (user and system
 *                       time of their threads), not the time of the hypervisor's other threads
 * @param memoryRssBytes the resident memory of the VM's host process, in bytes: guest memory
 *                       the guest has touched plus the hypervisor's own; 0 where there is no
 *                       host process
 * @param uptime         how long the VM's process has existed, paused time included
 * @param disks          the I/O counters of each disk, by the disk's name in the VM's spec
 *                       ({@link DiskSpec#name()}), in the spec's order; empty for a VM
 *                       without disks
 */
public record VmStats(Duration cpuTime, long memoryRssBytes, Duration uptime, Map<String, DiskStats> disks) {

    /**
     * Copies {@code disks}, keeping its iteration order.
     *
     * @throws NullPointerException     if {@code cpuTime}, {@code uptime} or {@code disks}, or
     *                                  a key or value of {@code disks}, is null
     * @throws IllegalArgumentException if {@code cpuTime}, {@code memoryRssBytes} or
     *                                  {@code uptime} is negative
     */
    public VmStats {
        Objects.requireNonNull(cpuTime, "cpuTime");
        Objects.requireNonNull(uptime, "uptime");
        Objects.requireNonNull(disks, "disks");
        if (cpuTime.isNegative()) {
            throw new IllegalArgumentException("cpuTime must not be negative, was " + cpuTime);
        }
        if (memoryRssBytes < 0) {
            throw new IllegalArgumentException("memoryRssBytes must not be negative, was " + memoryRssBytes);
        }
        if (uptime.isNegative()) {
            throw new IllegalArgumentException("uptime must not be negative, was " + uptime);
        }
        LinkedHashMap<String, DiskStats> copy = new LinkedHashMap<>();
        disks.forEach((name, stats) -> copy.put(Objects.requireNonNull(name, "disks must not hold a null name"),
                Objects.requireNonNull(stats, "disks must not hold null stats (disk '" + name + "')")));
        disks = Collections.unmodifiableMap(copy);
    }

    /**
     * The counters of the named disk.
     *
     * @throws IllegalArgumentException if the VM has no disk of that name
     */
    public DiskStats disk(String name) {
        DiskStats stats = disks.get(Objects.requireNonNull(name, "name"));
        if (stats == null) {
            throw new IllegalArgumentException("no disk '" + name + "' in these stats; disks are " + disks.keySet());
        }
        return stats;
    }
}
