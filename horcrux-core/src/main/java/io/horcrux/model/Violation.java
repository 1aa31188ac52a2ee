package io.horcrux.model;

import java.util.Objects;

/**
 * One broken rule of a {@link VmSpec}: the field, as a path such as {@code "disks[1].sizeBytes"}
 * or {@code "labels[env]"}, and the rule it breaks, in words.
 */
public record Violation(String field, String rule) {
    public Violation {
        Objects.requireNonNull(field, "field");
        Objects.requireNonNull(rule, "rule");
    }

    @Override
    public String toString() {
        return field + ": " + rule;
    }
}
