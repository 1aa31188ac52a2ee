package io.horcrux.model;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;

/**
 * Which VMs to list or stream: filters on status and labels, a page size and a keyset cursor.
 * Immutable; each {@code with...} method returns a new query.
 *
 * <pre>{@code
 * Page<Vm> first = manager.list(VmQuery.all().withLabel("env", "prod").limit(50));
 * Page<Vm> second = manager.list(VmQuery.all().withLabel("env", "prod").limit(50)
 *         .after(first.nextCursor().orElseThrow()));
 * }</pre>
 *
 * Results are ordered by id. {@code list} returns at most {@link #limit() limit} items
 * ({@value #DEFAULT_LIMIT} when unset); {@code stream} returns every match unless a limit is set.
 */
public final class VmQuery {
    /** The page size of {@code list} when no limit is set. */
    public static final int DEFAULT_LIMIT = 100;
    /** The largest page size. */
    public static final int MAX_LIMIT = 10_000;

    private static final VmQuery ALL = new VmQuery(Set.of(), Map.of(), 0, null);

    private final Set<VmStatus> statuses;
    private final Map<String, String> labels;
    private final int limit;
    private final String after;

    private VmQuery(Set<VmStatus> statuses, Map<String, String> labels, int limit, String after) {
        this.statuses = statuses;
        this.labels = labels;
        this.limit = limit;
        this.after = after;
    }

    /** Every VM. */
    public static VmQuery all() {
        return ALL;
    }

    /** Only VMs in one of the given statuses (replacing any earlier status filter). */
    public VmQuery withStatus(VmStatus first, VmStatus... more) {
        EnumSet<VmStatus> set = EnumSet.of(Objects.requireNonNull(first, "status"), more);
        return new VmQuery(Collections.unmodifiableSet(set), labels, limit, after);
    }

    /** Only VMs whose label {@code key} has {@code value}; several labels must all match. */
    public VmQuery withLabel(String key, String value) {
        if (key == null || !SpecRules.LABEL_KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("label key '" + VmSpec.printable(key) + "': " + SpecRules.LABEL_KEY_RULE);
        }
        String problem = SpecRules.labelValueProblem(value);
        if (problem != null) {
            throw new IllegalArgumentException("label '" + key + "': " + problem);
        }
        TreeMap<String, String> copy = new TreeMap<>(labels);
        copy.put(key, value);
        return new VmQuery(statuses, Collections.unmodifiableMap(copy), limit, after);
    }

    /**
     * At most {@code limit} items.
     *
     * @throws IllegalArgumentException unless 1 &lt;= limit &lt;= {@value #MAX_LIMIT}
     */
    public VmQuery limit(int limit) {
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT + ", was " + limit);
        }
        return new VmQuery(statuses, labels, limit, after);
    }

    /**
     * Only items after the cursor of a previous page ({@link Page#nextCursor()}).
     *
     * @throws IllegalArgumentException if the cursor was not made by Horcrux
     */
    public VmQuery after(String cursor) {
        if (cursor == null || !SpecRules.ID.matcher(cursor).matches()) {
            throw new IllegalArgumentException("after: '" + VmSpec.printable(cursor) + "' is not a page cursor");
        }
        return new VmQuery(statuses, labels, limit, cursor);
    }

    /** This query's filters without its limit and cursor. */
    public VmQuery withoutPaging() {
        return new VmQuery(statuses, labels, 0, null);
    }

    /** The statuses to match; empty means any. */
    public Set<VmStatus> statuses() {
        return statuses;
    }

    /** Labels that must all match, sorted by key; empty means any. */
    public Map<String, String> labels() {
        return labels;
    }

    /** The limit, if one was set. */
    public OptionalInt limit() {
        return limit == 0 ? OptionalInt.empty() : OptionalInt.of(limit);
    }

    /** The id after which results start, if any. */
    public Optional<String> after() {
        return Optional.ofNullable(after);
    }

    /** Whether a VM passes the status and label filters (the cursor and limit aside). */
    public boolean matches(Vm vm) {
        if (!statuses.isEmpty() && !statuses.contains(vm.status())) {
            return false;
        }
        Map<String, String> vmLabels = vm.spec().labels();
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!e.getValue().equals(vmLabels.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VmQuery q && statuses.equals(q.statuses) && labels.equals(q.labels) && limit == q.limit
                && Objects.equals(after, q.after);
    }

    @Override
    public int hashCode() {
        return Objects.hash(statuses, labels, limit, after);
    }

    @Override
    public String toString() {
        return "VmQuery[statuses=" + statuses + ", labels=" + labels + ", limit=" + limit + ", after=" + after + "]";
    }
}
