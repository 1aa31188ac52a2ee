package io.horcrux.testkit;

import io.horcrux.model.DiskSpec;
import io.horcrux.model.DiskStats;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The live stats of one run of a {@link SimulatedDriver}'s VM: uptime since the start, vCPU time
 * that grows with the time the VM spends {@code RUNNING} (as if its guest kept one vCPU busy)
 * and stands still while it is paused, the spec's memory as resident memory, and disk counters
 * that only the test moves. Times come from the driver's clock and never go backwards.
 * Thread-safe.
 */
final class SimulatedStats {
    private static final long MIB = 1L << 20;

    private final Clock clock;
    private final Instant startedAt;
    private final long memoryBytes;
    private final Map<String, DiskStats> disks = new LinkedHashMap<>();
    private Duration cpuBefore = Duration.ZERO;
    private Instant runningSince; // null while paused
    private Duration lastUptime = Duration.ZERO;
    private Duration lastCpu = Duration.ZERO;

    SimulatedStats(VmSpec spec, Clock clock) {
        this.clock = clock;
        this.startedAt = clock.instant();
        this.runningSince = startedAt;
        this.memoryBytes = spec.memoryMiB() * MIB;
        for (DiskSpec disk : spec.disks()) {
            disks.put(disk.name(), DiskStats.ZERO);
        }
    }

    synchronized void paused() {
        if (runningSince != null) {
            cpuBefore = cpuBefore.plus(since(runningSince));
            runningSince = null;
        }
    }

    synchronized void resumed() {
        if (runningSince == null) {
            runningSince = clock.instant();
        }
    }

    /**
     * Counts one request of {@code bytes} on the disk.
     *
     * @throws IllegalArgumentException if the VM has no such disk or {@code bytes} is negative
     */
    synchronized void io(String vmId, String disk, long bytes, boolean write) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must not be negative, was " + bytes);
        }
        DiskStats was = disks.get(disk);
        if (was == null) {
            throw new IllegalArgumentException("VM '" + vmId + "' has no disk '" + disk + "'; its disks are "
                    + disks.keySet());
        }
        disks.put(disk, write
                ? new DiskStats(was.readBytes(), was.writtenBytes() + bytes, was.readOps(), was.writeOps() + 1)
                : new DiskStats(was.readBytes() + bytes, was.writtenBytes(), was.readOps() + 1, was.writeOps()));
    }

    synchronized VmStats now() {
        Duration cpu = runningSince == null ? cpuBefore : cpuBefore.plus(since(runningSince));
        lastCpu = max(lastCpu, cpu);
        lastUptime = max(lastUptime, since(startedAt));
        return new VmStats(lastCpu, memoryBytes, lastUptime, disks);
    }

    private Duration since(Instant then) {
        return max(Duration.ZERO, Duration.between(then, clock.instant()));
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
