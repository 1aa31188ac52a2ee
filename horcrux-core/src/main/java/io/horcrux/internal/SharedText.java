package io.horcrux.internal;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Strings of the kind that repeat from row to row (a status reason, a disk's or a NIC's name, a
 * label, an image path), made from bytes: the string a small shared table holds for the same
 * characters if there is one, else a new one, then kept. Strings are immutable, so a shared one
 * is no different to its reader; a slot lost to a collision or a race costs only a new string.
 * Only printable ASCII of at most {@value #MAX_LENGTH} characters is kept; anything else is
 * decoded as UTF-8 every time. Thread-safe without locks.
 *
 * <p>Not API: this package may change without notice.
 */
public final class SharedText {
    /** How many strings the table keeps (a power of two). */
    static final int SLOTS = 1024;
    /** The longest string kept. */
    static final int MAX_LENGTH = 64;
    private static final AtomicReferenceArray<String> TABLE = new AtomicReferenceArray<>(SLOTS);

    private SharedText() {
    }

    /** The UTF-8 text of {@code utf8} (all of it). */
    public static String of(byte[] utf8) {
        return of(utf8, 0, utf8.length);
    }

    /** The UTF-8 text of {@code utf8[from, from + length)}. */
    public static String of(byte[] utf8, int from, int length) {
        if (length > MAX_LENGTH) {
            return new String(utf8, from, length, StandardCharsets.UTF_8);
        }
        int hash = 0;
        for (int i = from; i < from + length; i++) {
            byte c = utf8[i];
            if (c < 0x20 || c > 0x7e) {
                return new String(utf8, from, length, StandardCharsets.UTF_8);
            }
            hash = 31 * hash + c;
        }
        int slot = (hash ^ (hash >>> 10)) & (SLOTS - 1);
        String known = TABLE.get(slot);
        if (known != null && known.length() == length && same(known, utf8, from)) {
            return known;
        }
        String s = new String(utf8, from, length, StandardCharsets.ISO_8859_1);
        TABLE.set(slot, s);
        return s;
    }

    private static boolean same(String s, byte[] bytes, int from) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) != bytes[from + i]) {
                return false;
            }
        }
        return true;
    }
}
