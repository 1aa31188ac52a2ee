package io.horcrux.qemu;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The QEMU processes a driver runs, by VM id, and the VMs whose last process crashed (with the
 * reason) until they are started, stopped or removed again. Thread-safe.
 */
final class ProcessTable {
    private final Map<String, QemuProcess> running = new ConcurrentHashMap<>();
    private final Map<String, String> crashed = new ConcurrentHashMap<>();
    private volatile Runnable onRegister = () -> { };

    /** Runs {@code listener} after each {@link #register}: a process is held from then on. */
    void onRegister(Runnable listener) {
        onRegister = java.util.Objects.requireNonNull(listener, "listener");
    }

    /** The VM's process, or null when the driver runs none for it. */
    QemuProcess get(String vmId) {
        return running.get(vmId);
    }

    boolean isRunning(String vmId) {
        return running.containsKey(vmId);
    }

    /** Whether {@code process} is the one the table holds for its VM. */
    boolean holds(QemuProcess process) {
        return running.get(process.id) == process;
    }

    void register(QemuProcess process) {
        synchronized (process) {
            running.put(process.id, process);
        }
        crashed.remove(process.id);
        onRegister.run();
    }

    /**
     * Forgets a process that is gone: marks it ended, closes its monitor and console, removes its
     * sockets and pidfile.
     */
    void forget(QemuProcess process) {
        process.ended();
        running.remove(process.id, process);
        process.disconnect();
        process.files.removeRuntimeFiles();
    }

    /** Removes a process of a failed start, if it got as far as the table. */
    void drop(QemuProcess process) {
        running.remove(process.id, process);
    }

    Collection<QemuProcess> all() {
        return List.copyOf(running.values());
    }

    void clear() {
        running.clear();
    }

    void crashed(String vmId, String reason) {
        crashed.put(vmId, reason);
    }

    void clearCrash(String vmId) {
        crashed.remove(vmId);
    }

    boolean hasCrashed(String vmId) {
        return crashed.containsKey(vmId);
    }
}
