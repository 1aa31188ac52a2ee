package io.horcrux.model;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What the manager knows of a VM now: its spec, status and runtime facts, with a version that
 * grows by one on every stored change (for optimistic concurrency) and timestamps. Immutable;
 * a change produces a new {@code Vm}.
 *
 * @param spec         the desired configuration
 * @param status       the current status
 * @param version      1 when created, +1 on every stored change
 * @param createdAt    when the VM was created
 * @param updatedAt    when it last changed
 * @param statusReason why the status is what it is, for example {@code "guest powered off"}; may be empty
 * @param runtime      the hypervisor process facts while the VM is active, otherwise {@code null};
 *                     see {@link #runtimeInfo()}
 */
public record Vm(VmSpec spec, VmStatus status, long version, Instant createdAt, Instant updatedAt,
                 String statusReason, VmRuntime runtime) {

    public Vm {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(updatedAt, "updatedAt");
        if (version < 1) {
            throw new IllegalArgumentException("version must be at least 1, was " + version);
        }
        statusReason = statusReason == null ? "" : statusReason;
    }

    /** The VM's id, the same as {@code spec().id()}. */
    public String id() {
        return spec.id();
    }

    /** The hypervisor process facts, present while the VM is active. */
    public Optional<VmRuntime> runtimeInfo() {
        return Optional.ofNullable(runtime);
    }
}
