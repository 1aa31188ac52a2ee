package io.horcrux.testkit;

import io.horcrux.DriverException;
import io.horcrux.model.Snapshot;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What one simulated VM holds that a snapshot saves: a text per writable disk (what a test says
 * the guest wrote there) and a text for its memory (lost when it stops), and the snapshots
 * taken of them. Guarded by its own monitor.
 */
final class SimulatedContent {
    private record Saved(Map<String, String> disks, String memory, VmStatus takenWhile) {
    }

    private final String vmId;
    private final Map<String, String> disks = new LinkedHashMap<>();
    private final Map<String, Saved> snapshots = new HashMap<>();
    private String memory = "";

    SimulatedContent(VmSpec spec) {
        this.vmId = spec.id();
        spec.disks().stream().filter(d -> !d.readOnly()).forEach(d -> disks.put(d.name(), ""));
    }

    synchronized void write(String disk, String content) {
        if (!disks.containsKey(disk)) {
            throw new IllegalArgumentException("VM '" + vmId + "' has no writable disk '" + disk + "'");
        }
        disks.put(disk, content);
    }

    synchronized String read(String disk) {
        String content = disks.get(disk);
        if (content == null) {
            throw new IllegalArgumentException("VM '" + vmId + "' has no writable disk '" + disk + "'");
        }
        return content;
    }

    /** Takes the source's disk texts, disk by disk of the same name: what a clone's disks start with. */
    void copyFrom(SimulatedContent source) {
        Map<String, String> theirs;
        synchronized (source) {
            theirs = Map.copyOf(source.disks);
        }
        synchronized (this) {
            theirs.forEach((disk, content) -> disks.replace(disk, content));
        }
    }

    synchronized void setMemory(String value) {
        memory = value;
    }

    synchronized String memory() {
        return memory;
    }

    synchronized void stopped() {
        memory = "";
    }

    synchronized void take(String name, VmStatus status, boolean withMemory) {
        if (snapshots.containsKey(name)) {
            throw new DriverException("VM '" + vmId + "': its disks already hold a snapshot '" + name + "'");
        }
        snapshots.put(name, new Saved(Map.copyOf(disks), withMemory ? memory : null, status));
    }

    /** Restores the disks and, of a snapshot with memory, the memory; returns the status after. */
    synchronized VmStatus revert(Snapshot snapshot, VmStatus now) {
        Saved saved = Optional.ofNullable(snapshots.get(snapshot.name())).orElseThrow(() -> new DriverException(
                "VM '" + vmId + "': its disks hold no snapshot '" + snapshot.name() + "'"));
        // Reverted as the snapshot passed says: one with memory passed without it reverts the disks only.
        boolean withMemory = snapshot.withMemory() && saved.memory() != null;
        if (snapshot.withMemory() && saved.memory() == null) {
            throw new DriverException("VM '" + vmId + "': snapshot '" + snapshot.name() + "' holds no memory");
        }
        if (withMemory != now.isActive()) {
            throw new DriverException("VM '" + vmId + "' is " + now + "; a revert to snapshot '" + snapshot.name()
                    + "' needs it " + (withMemory ? "running" : "stopped"));
        }
        disks.putAll(saved.disks());
        if (withMemory) {
            memory = saved.memory();
            return saved.takenWhile();
        }
        return VmStatus.STOPPED;
    }

    synchronized void delete(String name) {
        snapshots.remove(name);
    }

    /** Each writable disk's name to the snapshots it holds (all of them: they are taken together). */
    synchronized Map<String, java.util.Set<String>> names() {
        Map<String, java.util.Set<String>> names = new LinkedHashMap<>();
        disks.keySet().forEach(d -> names.put(d, java.util.Set.copyOf(snapshots.keySet())));
        return java.util.Collections.unmodifiableMap(names);
    }

    synchronized boolean has(String name) {
        return snapshots.containsKey(name);
    }
}
