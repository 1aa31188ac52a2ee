package io.horcrux;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One lock per key, created on first use and dropped when nobody holds or waits for it, so
 * that operations on one VM are serialised while those on different VMs never contend.
 */
final class KeyedLocks {
    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();

    /** A held lock; closing releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    Held lock(String key) {
        Entry entry = entries.compute(key, (k, e) -> {
            Entry held = e == null ? new Entry() : e;
            held.users++;
            return held;
        });
        entry.lock.lock();
        return () -> release(key, entry);
    }

    /**
     * The key's lock if it is free now; else {@code null}, and {@code whenFree} runs once, on
     * the thread that next releases it (so it must be short: hand work to an executor). A
     * waiter that never blocks: the supervisor's few threads serve every VM this way, whatever
     * one VM's long operation holds. {@code whenFree} may find the lock taken again by then.
     */
    Held tryLockOrWhenFree(String key, Runnable whenFree) {
        Entry entry = entries.compute(key, (k, e) -> {
            Entry held = e == null ? new Entry() : e;
            held.users++;
            return held;
        });
        boolean got;
        synchronized (entry) {
            got = entry.lock.tryLock();
            if (!got) {
                // Someone holds it, and so keeps this entry mapped until its release runs the hook.
                entry.whenFree.add(whenFree);
            }
        }
        if (got) {
            return () -> release(key, entry);
        }
        entries.computeIfPresent(key, (k, e) -> --e.users == 0 ? null : e);
        return null;
    }

    /** Locks every key in a global order (sorted, distinct), so two batches never deadlock. */
    Held lockAll(List<String> sortedDistinctKeys) {
        Held[] held = new Held[sortedDistinctKeys.size()];
        for (int i = 0; i < held.length; i++) {
            held[i] = lock(sortedDistinctKeys.get(i));
        }
        return () -> {
            for (int i = held.length - 1; i >= 0; i--) {
                held[i].close();
            }
        };
    }

    /** Keys with a lock entry now; for tests that check nothing leaks. */
    int size() {
        return entries.size();
    }

    private void release(String key, Entry entry) {
        entry.lock.unlock();
        List<Runnable> hooks = null;
        synchronized (entry) {
            if (!entry.whenFree.isEmpty()) {
                hooks = new ArrayList<>(entry.whenFree);
                entry.whenFree.clear();
            }
        }
        entries.computeIfPresent(key, (k, e) -> --e.users == 0 ? null : e);
        if (hooks != null) {
            hooks.forEach(Runnable::run);
        }
    }

    private static final class Entry {
        final ReentrantLock lock = new ReentrantLock();
        int users; // changed only inside ConcurrentHashMap.compute for this key
        final List<Runnable> whenFree = new ArrayList<>(0); // guarded by the entry
    }
}
