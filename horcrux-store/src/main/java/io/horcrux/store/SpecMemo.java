package io.horcrux.store;

import io.horcrux.internal.StoredSpecText;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmCodec;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.SoftReference;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The specs the store decoded lately, by their stored bytes: a row whose {@code spec_json} is
 * byte for byte one decoded before gets the same (immutable) {@link VmSpec} back, without
 * parsing or validating it again. Most reads of an inventory are of specs that did not change
 * since the last read: only status, version and timestamps move, and those are read from
 * their own columns every time.
 *
 * <p>A hit needs the very same bytes, so it can never return a spec other than the one
 * {@link VmCodec#decodeSpec} makes of the row: nothing about the writers is assumed, and
 * nothing needs invalidating. Bytes that fail to decode are not remembered.
 *
 * <p>Bounded twice: at most {@value #SETS} x 2 entries (two-way set associative, indexed by
 * the bytes' hash; a miss takes a free way of its set, or one picked by the hash), and each
 * entry's spec is softly reachable, so the garbage collector clears it before the heap runs
 * out: streaming an inventory larger than the memory still runs in bounded memory. An entry
 * holds its bytes (a stored spec's text, some 300 bytes) strongly, so at most some 5 MB stay
 * whatever the heap; one object per entry rather than two keeps a stream of specs the memo
 * cannot all keep from making more garbage than it must. Thread-safe without locks.
 */
final class SpecMemo {
    static final int SETS = 8192;

    /** What a slot holds: the bytes, and softly the spec decoded from them. */
    private static final class Entry extends SoftReference<VmSpec> {
        final int hash;
        final byte[] bytes;
        /** Whether the bytes are all ASCII: then the JSON writer may copy them as the spec's text. */
        final boolean ascii;

        Entry(byte[] bytes, VmSpec spec, int hash) {
            super(spec);
            this.bytes = bytes;
            this.hash = hash;
            this.ascii = isAscii(bytes);
        }
    }

    private final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(SETS * 2);

    /**
     * The spec of these bytes, as {@link VmCodec#decodeSpec} gives it.
     *
     * @throws io.horcrux.StoreException as {@link VmCodec#decodeSpec} does
     */
    VmSpec decode(byte[] bytes) {
        int hash = hash(bytes);
        int set = (hash ^ (hash >>> 16)) & (SETS - 1);
        int first = set * 2;
        Entry entry = find(first, hash, bytes);
        VmSpec spec = entry == null ? null : entry.get();
        if (spec == null) {
            entry = find(first + 1, hash, bytes);
            spec = entry == null ? null : entry.get();
        }
        if (spec == null) {
            spec = VmCodec.decodeSpec(bytes);
            entry = new Entry(bytes, spec, hash);
            // An empty or cleared way if there is one, else the one a further bit of the hash picks.
            int way = isFree(first) ? 0 : isFree(first + 1) ? 1 : hash >>> 13 & 1;
            slots.set(first + way, entry);
        }
        if (entry.ascii) {
            StoredSpecText.read(spec, bytes); // the row's own copy, just read
        }
        return spec;
    }

    private static boolean isAscii(byte[] bytes) {
        int any = 0;
        for (byte b : bytes) {
            any |= b;
        }
        return any >= 0;
    }

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * A hash of all the bytes, eight at a time: a stored spec is some 300 bytes and every row
     * read hashes its own, so a byte at a time (as {@link Arrays#hashCode(byte[])} goes) costs
     * about as much as the rest of reading the row. Equal bytes hash alike; a hit is still
     * confirmed byte for byte.
     */
    static int hash(byte[] bytes) {
        long h = bytes.length;
        int i = 0;
        for (; i + Long.BYTES <= bytes.length; i += Long.BYTES) {
            h = h * 0x9E3779B97F4A7C15L + (long) LONGS.get(bytes, i);
        }
        for (; i < bytes.length; i++) {
            h = h * 31 + bytes[i];
        }
        h ^= h >>> 29;
        h *= 0xBF58476D1CE4E5B9L;
        return (int) (h ^ (h >>> 32));
    }

    private boolean isFree(int slot) {
        Entry e = slots.get(slot);
        return e == null || e.get() == null;
    }

    /** The entry in {@code slot} for these bytes, or null. */
    private Entry find(int slot, int hash, byte[] bytes) {
        Entry e = slots.get(slot);
        return e != null && e.hash == hash && Arrays.equals(e.bytes, bytes) ? e : null;
    }
}
