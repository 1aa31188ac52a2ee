package io.horcrux.internal;

import io.horcrux.model.VmSpec;

/**
 * The spec a store's reading thread decoded last, with the stored text it decoded it from: the
 * JSON writer copies that text for the spec rather than look up or write its own, so a VM
 * written right after its row was read (an export, a listing served as JSON) gets its spec's
 * text from bytes the row just brought in. One slot per thread; a writer that finds another
 * spec there ignores it.
 *
 * <p>Not API: this package may change without notice.
 */
public final class StoredSpecText {
    private static final ThreadLocal<StoredSpecText> LAST = ThreadLocal.withInitial(StoredSpecText::new);

    private VmSpec spec;
    private byte[] text;

    private StoredSpecText() {
    }

    /**
     * Notes that {@code spec} was just read from {@code text}: a JSON object, all ASCII, that
     * decodes to exactly that spec (kept, not copied).
     */
    public static void read(VmSpec spec, byte[] text) {
        StoredSpecText last = LAST.get();
        last.spec = spec;
        last.text = text;
    }

    /** The text {@link #read} noted last on this thread if it was for this very spec, else null. */
    static byte[] of(VmSpec spec) {
        StoredSpecText last = LAST.get();
        return last.spec == spec ? last.text : null;
    }
}
