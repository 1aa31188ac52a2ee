package io.horcrux.internal;

import java.util.Map;

/**
 * What the spec readers of this package need from the model that the model does not make
 * public: the labels map a {@link io.horcrux.model.VmSpec} keeps, made straight from the pairs
 * read, so the spec's constructor checks the labels where they are instead of copying them.
 * The model registers its maker when its labels class loads; a map made here is checked by the
 * spec's constructor like any other (a maker registered by anyone else only gets its maps
 * copied and checked).
 *
 * <p>Not API: this package may change without notice.
 */
public final class SpecParts {
    /** Makes a spec's labels map. */
    @FunctionalInterface
    public interface LabelsMaker {
        /**
         * The first {@code count} pairs of {@code pairs} (key, value, key, value...; distinct
         * keys in any order; the array is taken over and may be longer) as the model's map.
         */
        Map<String, String> labels(String[] pairs, int count);
    }

    private static volatile LabelsMaker maker;

    private SpecParts() {
    }

    /** Called once by the model; a second call is ignored. */
    public static void register(LabelsMaker labelsMaker) {
        synchronized (SpecParts.class) {
            if (maker == null) {
                maker = labelsMaker;
            }
        }
    }

    /** {@link LabelsMaker#labels} of the model's maker. */
    static Map<String, String> labels(String[] pairs, int count) {
        LabelsMaker m = maker;
        if (m == null) {
            try {
                // Loading the model's labels class registers its maker.
                Class.forName("io.horcrux.model.SortedLabels", true, SpecParts.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("the model's labels class is missing", e);
            }
            m = maker;
        }
        return m.labels(pairs, count);
    }
}
