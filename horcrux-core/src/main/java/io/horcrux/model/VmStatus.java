package io.horcrux.model;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * Where a VM is in its life. The allowed moves form one state machine, enforced by the
 * {@code VmManager} and nowhere else:
 *
 * <pre>
 *   STOPPED ──start──▶ STARTING ──▶ RUNNING ◀──resume/pause──▶ PAUSED
 *      ▲                  │            │                          │
 *      │                  ▼            ▼                          ▼
 *      └───────────── STOPPING ◀──stop─┴──────────────────────────┘
 *   any running status ──(process died, guest panicked)──▶ CRASHED ──start──▶ STARTING
 *   STOPPED ──makeTemplate──▶ TEMPLATE (for good)
 * </pre>
 *
 * A running VM may also move straight to {@link #STOPPED} when its guest powers off by
 * itself; {@link #STARTING} falls back to {@link #STOPPED} when a start fails, and
 * {@link #STOPPING} back to the status before it when a stop fails with the process alive.
 */
public enum VmStatus {
    /** No process; the VM can be started or deleted. */
    STOPPED,
    /** A start is in progress. */
    STARTING,
    /** The process runs and the guest's vCPUs run. */
    RUNNING,
    /** The process runs with its vCPUs paused. */
    PAUSED,
    /** A stop is in progress. */
    STOPPING,
    /** The process died without a clean shutdown, or the guest panicked. */
    CRASHED,
    /**
     * A template ({@code VmManager.makeTemplate}): its disks are read-only bases for clones, and
     * it never starts or changes again. It can only be cloned and, once no linked clone uses it,
     * deleted. No status follows it.
     */
    TEMPLATE;

    private Set<VmStatus> next;

    static {
        STOPPED.next = EnumSet.of(STARTING, TEMPLATE);
        STARTING.next = EnumSet.of(RUNNING, PAUSED, STOPPED, CRASHED);
        RUNNING.next = EnumSet.of(PAUSED, STOPPING, STOPPED, CRASHED);
        PAUSED.next = EnumSet.of(RUNNING, STOPPING, STOPPED, CRASHED);
        STOPPING.next = EnumSet.of(STOPPED, CRASHED, RUNNING, PAUSED);
        CRASHED.next = EnumSet.of(STARTING, STOPPING, STOPPED);
        TEMPLATE.next = EnumSet.noneOf(VmStatus.class);
        for (VmStatus status : values()) {
            status.next = Collections.unmodifiableSet(status.next);
        }
    }

    /** The statuses this one may move to. */
    public Set<VmStatus> successors() {
        return next;
    }

    /** Whether the state machine allows a move from this status to {@code target}. */
    public boolean canMoveTo(VmStatus target) {
        return next.contains(target);
    }

    /** Whether a hypervisor process may exist for a VM in this status. */
    public boolean isActive() {
        return this == STARTING || this == RUNNING || this == PAUSED || this == STOPPING;
    }
}
