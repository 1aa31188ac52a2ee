package io.horcrux.model;

import io.horcrux.internal.SpecParts;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * A spec's labels: an immutable map in key order, kept in one array of keys and values. A spec
 * has a handful of labels and is read far more often than made, and every stored spec is made
 * again on each read that misses the stores' memo, so its labels cost one small array rather
 * than a tree of entries behind an unmodifiable view; the JSON reader makes it straight from
 * the pairs it reads ({@link SpecParts}), and the spec's constructor checks such a map where it
 * is rather than copying it. Lookups are binary searches; iteration
 * is in key order, as {@link VmSpec#labels()} promises. Equal to any {@link Map} with the same
 * pairs.
 */
final class SortedLabels extends AbstractMap<String, String> {
    static {
        SpecParts.register(SortedLabels::of);
    }

    /** Key, value, key, value... in key order, without repeated keys. */
    private final String[] pairs;

    private SortedLabels(String[] pairs) {
        this.pairs = pairs;
    }

    /**
     * The first {@code count} pairs of {@code pairs} (key, value, key, value...; distinct keys
     * in any order; the array is taken over and may be longer) as a map in key order.
     */
    static Map<String, String> of(String[] pairs, int count) {
        if (count == 0) {
            return Map.of();
        }
        String[] p = pairs.length == 2 * count ? pairs : Arrays.copyOf(pairs, 2 * count);
        // Insertion sort: a few labels, often in order already.
        for (int i = 1; i < count; i++) {
            String key = p[2 * i];
            String value = p[2 * i + 1];
            int j = i - 1;
            while (j >= 0 && p[2 * j].compareTo(key) > 0) {
                p[2 * j + 2] = p[2 * j];
                p[2 * j + 3] = p[2 * j + 1];
                j--;
            }
            p[2 * j + 2] = key;
            p[2 * j + 3] = value;
        }
        return new SortedLabels(p);
    }

    /** The key of the {@code i}th pair in key order. */
    String key(int i) {
        return pairs[2 * i];
    }

    /** The value of the {@code i}th pair in key order. */
    String value(int i) {
        return pairs[2 * i + 1];
    }

    /** The index of {@code key}'s pair, or -1. */
    private int indexOf(Object key) {
        if (!(key instanceof String k)) {
            return -1;
        }
        int low = 0;
        int high = pairs.length / 2 - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            int c = pairs[2 * mid].compareTo(k);
            if (c < 0) {
                low = mid + 1;
            } else if (c > 0) {
                high = mid - 1;
            } else {
                return mid;
            }
        }
        return -1;
    }

    @Override
    public int size() {
        return pairs.length / 2;
    }

    @Override
    public boolean containsKey(Object key) {
        return indexOf(key) >= 0;
    }

    @Override
    public String get(Object key) {
        int i = indexOf(key);
        return i >= 0 ? pairs[2 * i + 1] : null;
    }

    @Override
    public void forEach(BiConsumer<? super String, ? super String> action) {
        for (int i = 0; i < pairs.length; i += 2) {
            action.accept(pairs[i], pairs[i + 1]);
        }
    }

    @Override
    public Set<Map.Entry<String, String>> entrySet() {
        return new AbstractSet<>() {
            @Override
            public int size() {
                return pairs.length / 2;
            }

            @Override
            public Iterator<Map.Entry<String, String>> iterator() {
                return new Iterator<>() {
                    private int next;

                    @Override
                    public boolean hasNext() {
                        return next < pairs.length;
                    }

                    @Override
                    public Map.Entry<String, String> next() {
                        if (next >= pairs.length) {
                            throw new NoSuchElementException();
                        }
                        int i = next;
                        next += 2;
                        return new SimpleImmutableEntry<>(pairs[i], pairs[i + 1]);
                    }
                };
            }
        };
    }
}
