package io.horcrux.spi;

import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.model.VmStatus;
import java.time.Duration;
import java.util.Set;

/**
 * Runs VMs on a hypervisor: the QEMU driver in {@code horcrux-qemu}, or the simulated driver
 * in {@code horcrux-testkit}. The manager serialises the lifecycle calls of one VM and
 * enforces the state machine, so a driver only does the work; prove an implementation with
 * the {@code VmDriverContract} test of {@code horcrux-testkit}.
 *
 * <p>Give each driver to one manager. A driver keeps what it makes (disk images, sockets,
 * logs) in its own place, here called its state: the QEMU driver's state directory, for example.
 *
 * @implSpec An implementation must:
 * <ul>
 *   <li><strong>Own its state alone.</strong> At most one open driver may use a state (a state
 *       directory, a host's hypervisor connection) at a time, in this process or any other:
 *       building a second one on the same state must fail with a
 *       {@link io.horcrux.DriverException} naming the holder, and closing the first (or its
 *       process dying) must let the next one build. When a manager opens it removes every VM
 *       the driver has {@linkplain #provisionedIds() provisioned} that its store does not know
 *       ({@link #removeOrphan}); a driver sharing its state with another manager's would delete
 *       that manager's disks. The contract checks it where its subclass can build a second
 *       driver on the same state ({@code secondDriverOnTheSameState()}).</li>
 *   <li>Be thread-safe; calls for different VMs may run at the same time.</li>
 *   <li>Every lifecycle method returns when the change has happened, or throws a
 *       {@link io.horcrux.DriverException} saying why. A failed {@link #provision} or
 *       {@link #start} leaves nothing behind: no file, no process.</li>
 *   <li><strong>Disks from images.</strong> An {@linkplain io.horcrux.model.DiskKind#OVERLAY
 *       overlay} shows its base's content and never writes the base; a
 *       {@linkplain io.horcrux.model.DiskKind#COPY copy} is independent of its source (writes to
 *       either never reach the other); a {@linkplain io.horcrux.model.DiskKind#CDROM CD-ROM} is
 *       read-only and its ISO is never written or removed. {@link #check} refuses a source the
 *       host cannot give (see there) with a {@link io.horcrux.DriverException} naming the disk's
 *       {@code source} field, before anything is written. A copy reports its progress through
 *       {@link #provision(VmSpec, io.horcrux.ProgressListener, io.horcrux.Cancellation)}
 *       (task {@link io.horcrux.model.Progress#COPY}, percentages that never go back, the last
 *       100) and, cancelled, ends with an {@link io.horcrux.OperationCancelledException}
 *       leaving nothing. The contract checks this with a small raw image it writes.</li>
 *   <li>Send changes it notices on its own to the {@link DriverObserver}.</li>
 *   <li><strong>Report port forwards as bound.</strong> The {@link VmRuntime} of {@link #start}
 *       and {@link #runtime} lists the forwards of the spec's user-mode NICs, in spec order,
 *       each with the host port actually listening: a forward asked with host port 0 carries
 *       the port chosen at start, a fixed one its own. A start whose fixed host port is in use
 *       (by another VM or program) fails with a {@link io.horcrux.DriverException} naming the
 *       port and leaves the VM stopped. After {@link #attach}, {@link #runtime} reports the
 *       forwards the running process holds.</li>
 *   <li><strong>Snapshots.</strong> {@link #snapshot}, {@link #revert} and
 *       {@link #deleteSnapshot} act on every disk of the VM that can change (those neither
 *       read-only nor CD-ROMs; the manager has checked they are all qcow2 and that there is at
 *       least one), all or none: a failure on one disk undoes what was done to the others and
 *       throws a {@link io.horcrux.DriverException}. The manager holds the VM's lock and has
 *       checked its status and the name (a valid id). A snapshot of a stopped VM holds its
 *       disks; one with memory of a running or paused VM also its memory and device state, and
 *       a revert to it leaves the VM running or paused as the snapshot was taken. The defaults
 *       refuse with a {@link io.horcrux.DriverException}; the contract checks a driver that
 *       {@linkplain #supportsSnapshots() supports them}. {@link #snapshotNames} says which
 *       snapshots each disk holds, so the manager can finish or roll back an operation a crash
 *       cut off.</li>
 *   <li><strong>Templates and clones.</strong> {@link #makeTemplate} makes a stopped VM's images
 *       read-only bases that are never written again; {@link #provisionClone} provisions a new
 *       VM from a source's images: overlays on a template's ({@code LINKED}: the clone's writes
 *       never reach the template), or independent copies ({@code FULL}: writes to either never
 *       reach the other), all or none, cancellable. Deprovisioning a clone leaves its source as it
 *       is. The contract checks a driver that {@linkplain #supportsClones() supports them}.</li>
 *   <li>{@link #close()} releases the driver's connections, threads and claim on its state and
 *       leaves VMs running, so that a new driver can {@link #attach} to them. Idempotent.</li>
 * </ul>
 */
public interface VmDriver extends AutoCloseable {

    /** A short name for logs and metrics, for example {@code "qemu"}. */
    String name();

    /** Called once by the manager before any other method. */
    void setObserver(DriverObserver observer);

    /**
     * Checks that this driver can run the spec, before anything is written. The default
     * accepts every spec.
     *
     * @throws io.horcrux.InvalidVmSpecException listing what this driver cannot do
     * @throws io.horcrux.DriverException        naming the field and the rule, for what only the
     *                                           host can tell: a source image of a disk (an
     *                                           overlay's base, a copy's source, a CD-ROM's ISO)
     *                                           that is missing, not a regular file, unreadable,
     *                                           not an image the hypervisor reads, or a qcow2
     *                                           whose own backing file is missing
     */
    default void check(VmSpec spec) {
    }

    /** The grace period of {@code VmManager.stop(id)}; 30 seconds unless the driver says otherwise. */
    default Duration defaultStopGrace() {
        return Duration.ofSeconds(30);
    }

    /** Prepares what a new VM needs before its first start, such as disk images. */
    void provision(VmSpec spec);

    /**
     * As {@link #provision(VmSpec)}, for work that may take long (the copy of a
     * {@link io.horcrux.model.DiskSpec#copyOf} disk): reports its progress to {@code listener} on
     * the calling thread and stops when {@code cancellation} is cancelled or the thread is
     * interrupted, throwing an {@link io.horcrux.OperationCancelledException} with nothing kept.
     * The manager calls this one. The default checks the cancellation, then calls
     * {@link #provision(VmSpec)}; a driver whose provisioning can take long overrides it.
     *
     * @throws io.horcrux.OperationCancelledException if cancelled; nothing of the VM is left
     */
    default void provision(VmSpec spec, io.horcrux.ProgressListener listener, io.horcrux.Cancellation cancellation) {
        cancellation.throwIfCancelled("provisioning VM '" + spec.id() + "'");
        provision(spec);
    }

    /** Removes everything {@link #provision} made. The VM is not active. Idempotent. */
    void deprovision(VmSpec spec);

    /**
     * The ids of the VMs this driver has provisioned and not deprovisioned. The manager asks
     * once, when it opens, to find what a create or delete cut off by a crash left behind (disks
     * are made before the inventory row and removed after it): each id here that the store does
     * not know goes to {@link #removeOrphan}. The default knows none.
     */
    default Set<String> provisionedIds() {
        return Set.of();
    }

    /**
     * Whether this driver has provisioned the VM here: a VM moved from another host, or taken
     * over from a dead one, may not be. The manager asks before a start; a VM without disks that
     * is not provisioned is provisioned then, one with disks is refused (moving copies no disks).
     *
     * @implSpec The default is true: a driver that does not say is taken at its word that a
     *           start finds what it needs. A driver that reports {@link #provisionedIds()} must
     *           answer as those ids do.
     */
    default boolean isProvisioned(String vmId) {
        return true;
    }

    /**
     * Removes what {@link #provision} made for a VM the inventory does not know, when no spec is
     * left to pass to {@link #deprovision}. Idempotent. The default does nothing.
     *
     * @throws IllegalArgumentException if {@code vmId} is not a valid VM id
     * @throws io.horcrux.DriverException if a process of that VM runs
     */
    default void removeOrphan(String vmId) {
    }

    /** Starts the VM and returns once it runs. */
    VmRuntime start(VmSpec spec);

    /**
     * Stops the VM: asks the guest to power off, waits up to {@code grace}, then forces it off.
     * {@link Duration#ZERO} forces at once. Returns when the process is gone.
     *
     * @return how it ended, for the event's reason
     */
    StopOutcome stop(String vmId, Duration grace);

    /** Pauses the VM's vCPUs. */
    void pause(String vmId);

    /** Resumes paused vCPUs. */
    void resume(String vmId);

    /** Resets the VM as a hardware reset button would. */
    void reset(String vmId);

    /**
     * What the driver sees now: {@link VmStatus#RUNNING} or {@link VmStatus#PAUSED} for a
     * VM it runs, {@link VmStatus#CRASHED} for one whose process died without a clean
     * shutdown since its last start, {@link VmStatus#STOPPED} otherwise.
     */
    VmStatus status(String vmId);

    /**
     * The process facts of a VM this driver runs now, for example after {@link #attach}; empty
     * when it runs none for that id. The default knows none.
     */
    default java.util.Optional<VmRuntime> runtime(String vmId) {
        return java.util.Optional.empty();
    }

    /**
     * Reconnects to a VM that the inventory says is active, typically after the application
     * restarted. Returns what {@link #status} would then return.
     */
    VmStatus attach(Vm vm);

    /**
     * The VM's serial console: what its guest printed since its last start (bounded) and, while
     * it runs, a way to type into it. Empty when the driver has no console for the VM (the
     * default: none), or does not know the VM.
     */
    default java.util.Optional<GuestConsole> console(String vmId) {
        return java.util.Optional.empty();
    }

    /**
     * What a VM this driver runs (started or reattached, {@code RUNNING} or {@code PAUSED}) has
     * used since its process started: vCPU time, host memory, uptime and I/O per disk, keyed by
     * the disk names of its spec. The manager checks the VM's status first and may call this for
     * several VMs at the same time. Live stats are an optional capability: the default has none
     * and throws.
     *
     * @throws io.horcrux.DriverException if the driver has no live stats (the default), runs no
     *                                    process for the VM, or cannot read them
     */
    default VmStats stats(String vmId) {
        throw new io.horcrux.DriverException("the " + name() + " driver has no live stats (VM '" + vmId + "')");
    }

    // ---------------------------------------------------------------- snapshots

    /** Whether this driver takes snapshots. The default: no. */
    default boolean supportsSnapshots() {
        return false;
    }

    /**
     * Takes a snapshot named {@code name} of the VM's disks, and with {@code withMemory} (only for
     * a {@code RUNNING} or {@code PAUSED} VM) of its memory and device state; the VM's status
     * stays. A disk-only snapshot of an active VM is taken at one instant across its disks.
     *
     * @implSpec The default refuses with a {@link io.horcrux.DriverException}. An implementation
     *           leaves no part of the snapshot behind when it fails.
     * @param vm the VM as stored, {@code STOPPED}, {@code RUNNING} or {@code PAUSED}
     */
    default void snapshot(Vm vm, String name, boolean withMemory) {
        throw new io.horcrux.DriverException("the " + name() + " driver takes no snapshots (VM '" + vm.id() + "')");
    }

    /**
     * Brings the VM back to {@code snapshot}. Of a snapshot without memory the VM is
     * {@code STOPPED} (the manager stops it first); with memory it is {@code RUNNING} or
     * {@code PAUSED} (the manager starts it first), and after the revert it runs on from the
     * snapshot, in the status {@link io.horcrux.model.Snapshot#takenWhile()}. The driver goes by
     * {@code snapshot.withMemory()}: a snapshot that holds memory, passed with {@code withMemory}
     * false, reverts the disks of a stopped VM only (the manager does so after a crash killed the
     * VM's process in the middle of a revert with memory).
     *
     * @implSpec The default refuses with a {@link io.horcrux.DriverException}.
     * @return the VM's status after the revert
     */
    default VmStatus revert(Vm vm, io.horcrux.model.Snapshot snapshot) {
        throw new io.horcrux.DriverException("the " + name() + " driver takes no snapshots (VM '" + vm.id() + "')");
    }

    /**
     * Deletes the named snapshot from the VM's disks, keeping their current content; the VM's
     * status stays. Idempotent: a disk without it is left as it is.
     *
     * @implSpec The default refuses with a {@link io.horcrux.DriverException}.
     */
    default void deleteSnapshot(Vm vm, String name) {
        throw new io.horcrux.DriverException("the " + name() + " driver takes no snapshots (VM '" + vm.id() + "')");
    }

    /**
     * What the VM's images hold now: for each disk a snapshot covers (neither read-only nor a
     * CD-ROM, by its spec name, in spec order), the names of the snapshots it holds. The manager
     * asks when it opens, for each VM whose snapshot operation a crash cut off, to see how far the
     * images got; a crash test compares it with the inventory's tree.
     *
     * @implSpec The default refuses with a {@link io.horcrux.DriverException}. An implementation
     *           that {@linkplain #supportsSnapshots() supports snapshots} answers for a stopped VM
     *           and for one it runs (started or {@linkplain #attach attached}). A snapshot job still
     *           running in the VM's hypervisor (one a killed process began) is waited for first, so
     *           the answer is what the images keep. The contract checks it after each operation.
     * @param vm the VM as stored
     * @return disk name to the names its image holds; unmodifiable
     */
    default java.util.Map<String, Set<String>> snapshotNames(Vm vm) {
        throw new io.horcrux.DriverException("the " + name() + " driver takes no snapshots (VM '" + vm.id() + "')");
    }

    // ---------------------------------------------------------------- templates and clones

    /** Whether this driver makes templates and clones. The default: no. */
    default boolean supportsClones() {
        return false;
    }

    /**
     * Makes the stopped VM's disk images read-only bases: from now on they are only read (as the
     * backing files of linked clones' overlays, or the source of full copies), never written, and
     * the VM never starts again. The manager holds the VM's lock and has checked it is
     * {@code STOPPED}. Idempotent.
     *
     * @implSpec The default refuses with a {@link io.horcrux.DriverException}.
     */
    default void makeTemplate(Vm vm) {
        throw new io.horcrux.DriverException("the " + name() + " driver makes no templates (VM '" + vm.id() + "')");
    }

    /**
     * Provisions the new VM {@code clone} (not provisioned; the manager holds both locks and
     * derived the clone's spec from the source's: the same disks by name, format and size) with
     * disks made from {@code source}'s: in {@link io.horcrux.model.CloneMode#LINKED} mode (the
     * source is a template, every disk that is not a CD-ROM is qcow2) a qcow2 overlay on each of
     * the source's images, the base's format given, never probed; in
     * {@link io.horcrux.model.CloneMode#FULL} mode an independent copy of each, its progress to
     * {@code listener} (task {@link io.horcrux.model.Progress#COPY}). A CD-ROM's ISO is attached
     * in place, as for the source. The source's images are only read.
     *
     * @implSpec The default refuses with a {@link io.horcrux.DriverException}. A clone that fails
     *           or is cancelled leaves nothing of the clone: no file, no directory.
     * @param source the stored source VM, {@code TEMPLATE} (or, for a full clone, {@code STOPPED})
     * @throws io.horcrux.OperationCancelledException if cancelled or the thread interrupted; nothing is kept
     */
    default void provisionClone(Vm source, VmSpec clone, io.horcrux.model.CloneMode mode,
                                io.horcrux.ProgressListener listener, io.horcrux.Cancellation cancellation) {
        throw new io.horcrux.DriverException("the " + name() + " driver makes no clones (VM '" + source.id() + "')");
    }

    /** Releases connections and threads; leaves VMs running. Idempotent. */
    @Override
    void close();
}
