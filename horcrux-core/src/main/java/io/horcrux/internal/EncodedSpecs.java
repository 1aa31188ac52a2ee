package io.horcrux.internal;

import io.horcrux.model.VmSpec;
import java.lang.ref.WeakReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The text {@link AsciiVmJson} wrote lately for a spec, by the spec object itself: a VM written
 * again (an export, a listing served as JSON) whose spec is the very same immutable object, as
 * the cache and the stores' memo of decoded specs hand out, gets the bytes copied rather than
 * written field by field again. Only status, version, timestamps, reason, runtime and owner
 * move between two writes of a VM, and those are written every time.
 *
 * <p>Keyed by identity, so a hit can only be the text of that spec: nothing to invalidate.
 * Bounded: {@value #SETS} x 2 entries (two-way set associative by identity hash), each holding
 * its spec weakly, so the cache keeps no spec alive; the texts it keeps (about half a kilobyte
 * for a typical spec) stay until their slot is taken, so at most some 2 MB. Thread-safe without
 * locks.
 */
final class EncodedSpecs {
    static final int SETS = 2048;

    private static final class Entry extends WeakReference<VmSpec> {
        final int hash;
        final byte[] text;

        Entry(VmSpec spec, int hash, byte[] text) {
            super(spec);
            this.hash = hash;
            this.text = text;
        }
    }

    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(SETS * 2);

    /** The text kept for this very spec, or null. */
    byte[] get(VmSpec spec) {
        int hash = System.identityHashCode(spec);
        int first = set(hash) * 2;
        Entry e = slots.get(first);
        if (e != null && e.hash == hash && e.get() == spec) {
            return e.text;
        }
        e = slots.get(first + 1);
        return e != null && e.hash == hash && e.get() == spec ? e.text : null;
    }

    /** Keeps {@code text} (not copied: the caller gives it up) as the spec's. */
    void put(VmSpec spec, byte[] text) {
        int hash = System.identityHashCode(spec);
        int first = set(hash) * 2;
        int way = isFree(first) ? 0 : isFree(first + 1) ? 1 : hash >>> 12 & 1;
        slots.set(first + way, new Entry(spec, hash, text));
    }

    private boolean isFree(int slot) {
        Entry e = slots.get(slot);
        return e == null || e.get() == null;
    }

    private static int set(int hash) {
        return (hash ^ (hash >>> 16)) & (SETS - 1);
    }
}
