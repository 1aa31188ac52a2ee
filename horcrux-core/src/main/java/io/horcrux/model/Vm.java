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
 * @param owner        the host that owns the VM: the only one that starts, stops and supervises
 *                     it (see {@code VmManager.Builder.host}); it follows the id rule of
 *                     {@link VmSpec#id()}
 */
public record Vm(VmSpec spec, VmStatus status, long version, Instant createdAt, Instant updatedAt,
                 String statusReason, VmRuntime runtime, String owner) {

    /**
     * The host of a manager that is given no other, and the owner of VMs stored before VMs had
     * owners: {@value}.
     */
    public static final String DEFAULT_HOST = "local";

    public Vm {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(updatedAt, "updatedAt");
        if (version < 1) {
            throw new IllegalArgumentException("version must be at least 1, was " + version);
        }
        statusReason = statusReason == null ? "" : statusReason;
        Objects.requireNonNull(owner, "owner");
        if (!isHostName(owner)) {
            throw new IllegalArgumentException("owner '" + owner + "' " + SpecRules.ID_RULE);
        }
    }

    /** A VM owned by {@link #DEFAULT_HOST}, the single host of an inventory that has one. */
    public Vm(VmSpec spec, VmStatus status, long version, Instant createdAt, Instant updatedAt,
              String statusReason, VmRuntime runtime) {
        this(spec, status, version, createdAt, updatedAt, statusReason, runtime, DEFAULT_HOST);
    }

    /**
     * Whether {@code name} may name a host: the rule of VM ids, {@code [a-z0-9][a-z0-9-]{0,62}}.
     *
     * @throws NullPointerException if {@code name} is null
     */
    public static boolean isHostName(String name) {
        return SpecRules.isId(Objects.requireNonNull(name, "name"));
    }

    /** The rule of host names, for error messages. */
    public static String hostNameRule() {
        return SpecRules.ID_RULE;
    }

    /** This VM with another owner, nothing else changed (not even the version). */
    public Vm withOwner(String host) {
        return new Vm(spec, status, version, createdAt, updatedAt, statusReason, runtime, host);
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
