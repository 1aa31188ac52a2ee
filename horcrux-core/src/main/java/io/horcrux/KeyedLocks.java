package io.horcrux;

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
        entries.computeIfPresent(key, (k, e) -> --e.users == 0 ? null : e);
    }

    private static final class Entry {
        final ReentrantLock lock = new ReentrantLock();
        int users; // changed only inside ConcurrentHashMap.compute for this key
    }
}
