package io.horcrux.model;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One page of a keyset-paginated listing. Pass {@link #nextCursor()} to
 * {@link VmQuery#after(String)} for the next page; it is absent on the last page. Cursors are
 * opaque and stay valid while VMs are created and deleted: no item is skipped or repeated.
 *
 * @param <T> the item type
 */
public final class Page<T> {
    private final List<T> items;
    private final String nextCursor;

    public Page(List<T> items, String nextCursor) {
        this.items = List.copyOf(items);
        this.nextCursor = nextCursor;
    }

    /** The items of this page, in id order. */
    public List<T> items() {
        return items;
    }

    /** The cursor of the next page; empty when this is the last page. */
    public Optional<String> nextCursor() {
        return Optional.ofNullable(nextCursor);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Page<?> p && items.equals(p.items) && Objects.equals(nextCursor, p.nextCursor);
    }

    @Override
    public int hashCode() {
        return Objects.hash(items, nextCursor);
    }

    @Override
    public String toString() {
        return "Page[" + items.size() + " items, nextCursor=" + nextCursor + "]";
    }
}
