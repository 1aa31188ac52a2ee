package io.horcrux;

import io.horcrux.model.Violation;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A {@link io.horcrux.model.VmSpec} (or one of its parts) breaks one or more rules. The
 * exception lists <em>every</em> violation, each naming the field and the rule, so a caller
 * can fix all of them at once. Nothing was stored, provisioned or started.
 */
public class InvalidVmSpecException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final List<Violation> violations;

    public InvalidVmSpecException(List<Violation> violations) {
        super(describe(violations));
        if (violations.isEmpty()) {
            throw new IllegalArgumentException("an InvalidVmSpecException needs at least one violation");
        }
        this.violations = List.copyOf(violations);
    }

    /** The violations, in the order the fields were checked; never empty. */
    public List<Violation> violations() {
        return violations;
    }

    private static String describe(List<Violation> violations) {
        return "invalid VM spec: " + violations.stream().map(Violation::toString).collect(Collectors.joining("; "));
    }
}
