package io.horcrux;

import io.horcrux.model.BatchResult;
import io.horcrux.model.CacheStats;
import io.horcrux.model.CloneMode;
import io.horcrux.model.Page;
import io.horcrux.model.Snapshot;
import io.horcrux.model.SnapshotMode;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Manages the VMs of one inventory: creates, starts, stops, pauses, resumes, resets, lists and
 * deletes them, keeps their status true as processes come and go, and tells listeners.
 *
 * <h2>Use one per inventory</h2>
 * Build one manager over a {@link VmStore} and a {@link VmDriver} when the application starts,
 * share it between threads, and {@link #close()} it when the application stops:
 * <pre>{@code
 * try (VmManager vms = VmManager.builder()
 *         .store(SqliteVmStore.open(dataDir.resolve("inventory.db")))
 *         .driver(QemuDriver.builder().stateDirectory(dataDir.resolve("vms")).build())
 *         .build()) {
 *     vms.create(VmSpec.builder().id("web-1").memoryMiB(512).disk(DiskSpec.qcow2("root", 8L << 30)).build());
 *     vms.start("web-1");
 * }
 * }</pre>
 * Building a manager reattaches to the VMs its inventory says are active, so a restarted
 * application picks up where it left off; closing it leaves VMs running unless
 * {@link Builder#stopVmsOnClose(boolean)} says otherwise.
 *
 * <h2>Threads</h2>
 * Every method is thread-safe. Lifecycle operations on one VM run one at a time, in arrival
 * order of the lock; operations on different VMs run in parallel; reads never wait for
 * lifecycle operations. A lifecycle method returns when the change is stored and, for the
 * driver's part, done.
 *
 * <h2>Consistency</h2>
 * Reads by id come from a cache that is written through after every stored change, so once a
 * method returns, no later read returns an older version. Every write compares versions: a
 * lost race is a {@link VmConflictException}, never a silent overwrite.
 *
 * <h2>Errors</h2>
 * Every exception thrown on purpose is a {@link HorcruxException}: {@link VmNotFoundException}
 * for an unknown id, {@link IllegalVmStateException} for an operation the VM's status does
 * not allow, {@link TemplateInUseException} for a template its linked clones still use,
 * {@link InvalidVmSpecException}, {@link VmAlreadyExistsException},
 * {@link VmConflictException}, {@link DriverException}, {@link StoreException} and
 * {@link InventoryJsonException}. Each method lists what it throws. A failed
 * operation leaves nothing half-done: no row, no disk file, no process. After {@link #close()}
 * every method throws {@link IllegalStateException}.
 */
public interface VmManager extends AutoCloseable {

    /** A builder; {@link Builder#store store} and {@link Builder#driver driver} are required. */
    static Builder builder() {
        return new Builder();
    }

    /**
     * Creates a VM in status {@code STOPPED} and provisions it (its disk images, with the QEMU
     * driver).
     *
     * @return the VM, at version 1
     * @throws NullPointerException      if {@code spec} is null
     * @throws InvalidVmSpecException    if the spec breaks this manager's limits or the driver's
     * @throws VmAlreadyExistsException  if the id is taken
     * @throws DriverException           if provisioning fails; nothing is stored
     * @throws StoreException            if the inventory cannot be written; nothing is provisioned
     * @throws IllegalStateException     if the manager is closed
     */
    Vm create(VmSpec spec);

    /**
     * As {@link #create(VmSpec)}, for a spec whose disks take long to make (full copies,
     * {@link io.horcrux.model.DiskSpec#copyOf}): their progress reaches {@code listener} on
     * this thread (and the log, at INFO each quarter), and {@code cancellation} (or an interrupt
     * of this thread) stops the work. A cancelled or failed create leaves nothing behind: no
     * row, no partial disk file, no process.
     *
     * <pre>{@code
     * Cancellation cancellation = Cancellation.create();
     * vms.create(VmSpec.builder().id("web-1").disk(DiskSpec.copyOf("root", golden)).build(),
     *         p -> progressBar.set(p.percent()), cancellation);
     * }</pre>
     *
     * @return the VM, at version 1
     * @throws NullPointerException         if an argument is null
     * @throws OperationCancelledException  if cancelled before the VM was stored; nothing is kept
     * @throws InvalidVmSpecException       if the spec breaks this manager's limits or the driver's
     * @throws VmAlreadyExistsException     if the id is taken
     * @throws DriverException              if the host refuses a disk's source image (the message
     *                                      names the field and the rule; nothing is written) or
     *                                      provisioning fails; nothing is stored
     * @throws StoreException               if the inventory cannot be written; nothing is provisioned
     * @throws IllegalStateException        if the manager is closed
     */
    Vm create(VmSpec spec, ProgressListener listener, Cancellation cancellation);

    /**
     * Creates many VMs at once, in one store transaction: all or none.
     *
     * @return the VMs, in the order of {@code specs}
     * @throws NullPointerException     if {@code specs} is null
     * @throws InvalidVmSpecException   listing the violations of every spec, fields prefixed
     *                                  with the spec's index, as in {@code "[3].memoryMiB"}; a
     *                                  {@code null} element is one such violation
     * @throws VmAlreadyExistsException naming every id that is taken or repeated
     * @throws DriverException          if provisioning one of them fails; nothing is stored
     * @throws StoreException           if the inventory cannot be written; nothing is provisioned
     * @throws IllegalStateException    if the manager is closed
     */
    List<Vm> createAll(List<VmSpec> specs);

    /**
     * The VM with this id, if any. Served from the cache when enabled.
     *
     * @throws NullPointerException  if {@code id} is null
     * @throws StoreException        if the inventory cannot be read
     * @throws IllegalStateException if the manager is closed
     */
    Optional<Vm> find(String id);

    /**
     * The VM with this id.
     *
     * @throws VmNotFoundException   if there is none
     * @throws NullPointerException  if {@code id} is null
     * @throws StoreException        if the inventory cannot be read
     * @throws IllegalStateException if the manager is closed
     */
    default Vm get(String id) {
        return find(id).orElseThrow(() -> new VmNotFoundException(id));
    }

    /**
     * One page of the VMs matching the query, by id; see {@link VmQuery} for paging.
     *
     * @throws NullPointerException  if {@code query} is null
     * @throws StoreException        if the inventory cannot be read
     * @throws IllegalStateException if the manager is closed
     */
    Page<Vm> list(VmQuery query);

    /**
     * Every VM matching the query, by id, read lazily from the store in bounded memory.
     * <strong>The stream holds a database cursor: close it</strong>, with try-with-resources,
     * or use {@link #withStream}. It also closes itself when exhausted.
     *
     * @throws NullPointerException  if {@code query} is null
     * @throws StoreException        if the inventory cannot be read, now or while the stream
     *                               is consumed
     * @throws IllegalStateException if the manager is closed
     */
    Stream<Vm> stream(VmQuery query);

    /**
     * Applies {@code action} to {@link #stream(VmQuery)} and closes the stream for the caller.
     *
     * @return what {@code action} returns
     * @throws NullPointerException  if {@code query} is null
     * @throws StoreException        if the inventory cannot be read
     * @throws IllegalStateException if the manager is closed
     */
    default <R> R withStream(VmQuery query, Function<? super Stream<Vm>, R> action) {
        try (Stream<Vm> vms = stream(query)) {
            return action.apply(vms);
        }
    }

    /**
     * How many VMs match the query's filters.
     *
     * @throws NullPointerException  if {@code query} is null
     * @throws StoreException        if the inventory cannot be read
     * @throws IllegalStateException if the manager is closed
     */
    long count(VmQuery query);

    /**
     * Starts a {@code STOPPED} or {@code CRASHED} VM and returns it {@code RUNNING}. The VM
     * passes through {@code STARTING}; if the driver fails it goes back to {@code STOPPED}.
     *
     * @throws VmNotFoundException     if there is no VM with this id
     * @throws IllegalVmStateException if the VM is in another status; nothing changes
     * @throws DriverException         if the driver fails; the VM is {@code STOPPED} with the
     *                                 reason
     * @throws VmConflictException     if the stored VM changed under this manager (another
     *                                 manager on the same inventory, which the SPI forbids)
     * @throws StoreException          if the inventory cannot be read or written
     * @throws NullPointerException    if {@code id} is null
     * @throws IllegalStateException   if the manager is closed
     */
    Vm start(String id);

    /**
     * Stops a running or paused VM with the driver's default grace period; see
     * {@link #stop(String, Duration)}.
     *
     * @throws VmNotFoundException     if there is no VM with this id
     * @throws IllegalVmStateException if the VM is not {@code RUNNING}, {@code PAUSED} or
     *                                 {@code CRASHED}
     * @throws DriverException         if the driver fails
     * @throws VmConflictException     if the stored VM changed under this manager
     * @throws StoreException          if the inventory cannot be read or written
     * @throws NullPointerException    if {@code id} is null
     * @throws IllegalStateException   if the manager is closed
     */
    Vm stop(String id);

    /**
     * Stops a {@code RUNNING}, {@code PAUSED} or {@code CRASHED} VM: asks the guest to power
     * off, waits up to {@code grace}, then forces it off. {@link Duration#ZERO} forces at once.
     * Returns the VM {@code STOPPED}, with its process gone.
     *
     * @throws VmNotFoundException      if there is no VM with this id
     * @throws IllegalVmStateException  if the VM is in another status; nothing changes
     * @throws DriverException          if the driver fails; the VM goes back to the status the
     *                                  driver then sees ({@code STOPPED} if its process is gone)
     * @throws VmConflictException      if the stored VM changed under this manager
     * @throws StoreException           if the inventory cannot be read or written
     * @throws IllegalArgumentException if {@code grace} is negative
     * @throws NullPointerException     if {@code id} or {@code grace} is null
     * @throws IllegalStateException    if the manager is closed
     */
    Vm stop(String id, Duration grace);

    /**
     * Pauses a {@code RUNNING} VM's vCPUs; returns it {@code PAUSED}.
     *
     * @throws VmNotFoundException     if there is no VM with this id
     * @throws IllegalVmStateException if the VM is not {@code RUNNING}; nothing changes
     * @throws DriverException         if the driver fails; the status stays
     * @throws VmConflictException     if the stored VM changed under this manager
     * @throws StoreException          if the inventory cannot be read or written
     * @throws NullPointerException    if {@code id} is null
     * @throws IllegalStateException   if the manager is closed
     */
    Vm pause(String id);

    /**
     * Resumes a {@code PAUSED} VM; returns it {@code RUNNING}.
     *
     * @throws VmNotFoundException     if there is no VM with this id
     * @throws IllegalVmStateException if the VM is not {@code PAUSED}; nothing changes
     * @throws DriverException         if the driver fails; the status stays
     * @throws VmConflictException     if the stored VM changed under this manager
     * @throws StoreException          if the inventory cannot be read or written
     * @throws NullPointerException    if {@code id} is null
     * @throws IllegalStateException   if the manager is closed
     */
    Vm resume(String id);

    /**
     * Resets a {@code RUNNING} or {@code PAUSED} VM like a hardware reset; its status stays
     * and nothing is stored.
     *
     * @throws VmNotFoundException     if there is no VM with this id
     * @throws IllegalVmStateException if the VM is in another status
     * @throws DriverException         if the driver fails
     * @throws StoreException          if the inventory cannot be read
     * @throws NullPointerException    if {@code id} is null
     * @throws IllegalStateException   if the manager is closed
     */
    Vm reset(String id);

    /**
     * Deletes a {@code STOPPED} or {@code CRASHED} VM, or a template no linked clone uses, with
     * its disks. The row goes first, so a failure of the driver afterwards leaves only files that
     * the next create of this id, or the next manager's opening, removes.
     *
     * @throws VmNotFoundException     if there is no VM with this id
     * @throws TemplateInUseException  if the VM is a template with linked clones (it names them);
     *                                 nothing changes
     * @throws IllegalVmStateException if the VM is active
     * @throws DriverException         if its disks cannot be removed; the VM is deleted
     * @throws VmConflictException     if the stored VM changed under this manager
     * @throws StoreException          if the inventory cannot be read or written
     * @throws NullPointerException    if {@code id} is null
     * @throws IllegalStateException   if the manager is closed
     */
    void delete(String id);

    /**
     * Starts each VM on the batch executor; one item's failure does not stop the others.
     * Repeated ids are started once.
     *
     * @return the VMs started, in the order of {@code ids}, and for each other id what
     *         {@link #start} threw
     * @throws NullPointerException  if {@code ids} or one of them is null
     * @throws IllegalStateException if the manager is closed
     */
    BatchResult<Vm> startAll(Collection<String> ids);

    /**
     * Stops each VM (default grace) on the batch executor, item by item.
     *
     * @return the VMs stopped, in the order of {@code ids}, and for each other id what
     *         {@link #stop(String)} threw
     * @throws NullPointerException  if {@code ids} or one of them is null
     * @throws IllegalStateException if the manager is closed
     */
    BatchResult<Vm> stopAll(Collection<String> ids);

    /**
     * Deletes each VM on the batch executor, item by item; succeeded items are the ids.
     *
     * @return the ids deleted, in the order of {@code ids}, and for each other id what
     *         {@link #delete} threw
     * @throws NullPointerException  if {@code ids} or one of them is null
     * @throws IllegalStateException if the manager is closed
     */
    BatchResult<String> deleteAll(Collection<String> ids);

    /**
     * Gives a stopped VM to another host: from now on only {@code host} starts, stops and
     * supervises it. Any host may move a {@code STOPPED} or {@code CRASHED} VM, its own or
     * another host's (the store's version check loses the race to a start). The VM's disks must be where the target can
     * reach them (a shared path): moving copies nothing.
     *
     * @param host a host known to the inventory: one that has run a manager on it (on a
     *             single-host store, only this manager's own host)
     * @return the VM as stored now, owned by {@code host}; unchanged if it already was
     * @throws VmNotFoundException      if there is no VM with this id
     * @throws IllegalVmStateException  if the VM is not {@code STOPPED} or {@code CRASHED};
     *                                  nothing changes
     * @throws IllegalArgumentException if {@code host} breaks the host name rule, named in the
     *                                  message; nothing changes
     * @throws HostNotFoundException    if no such host is known; nothing changes
     * @throws VmConflictException      if the VM changed meanwhile (another host started it)
     * @throws LeaseLostException       if this host's lease is lost; nothing changes
     * @throws StoreException           if the inventory cannot be read or written
     * @throws NullPointerException     if an argument is null
     * @throws IllegalStateException    if the manager is closed
     */
    Vm moveTo(String id, String host);

    /** The host this manager runs as; see {@link Builder#host}. */
    String host();

    /**
     * What a {@code RUNNING} or {@code PAUSED} VM has used since its process started, read
     * now from the driver: vCPU time, host memory, uptime, and I/O per disk by the disk's name.
     * With the QEMU driver this asks the VM's monitor and reads {@code /proc}; see
     * {@link VmStats}. Takes no lock of the VM: it may run beside a lifecycle operation.
     *
     * @throws VmNotFoundException     if there is no VM with this id
     * @throws IllegalVmStateException if the VM is not {@code RUNNING} or {@code PAUSED}, also
     *                                 when it stopped while its stats were read
     * @throws DriverException         if the driver has no live stats or cannot read them
     * @throws StoreException          if the inventory cannot be read
     * @throws NullPointerException    if {@code id} is null
     * @throws IllegalStateException   if the manager is closed
     */
    VmStats stats(String id);

    /**
     * The stats of many VMs in one call, read concurrently on the batch executor (each VM over
     * its own monitor), as {@link #stats(String)} reads them. Repeated ids are read once.
     *
     * <p>The map holds exactly the VMs whose stats could be read, in the order of {@code ids}:
     * an id with no VM, a VM that is not {@code RUNNING} or {@code PAUSED}, and a VM whose
     * driver failed to answer (logged as a warning) are left out, so one VM stopping or failing
     * never hides the others' stats. The ids missing from its keys are those without stats.
     *
     * @return unmodifiable, id to stats
     * @throws NullPointerException  if {@code ids} or one of them is null
     * @throws IllegalStateException if the manager is closed
     */
    Map<String, VmStats> statsAll(Collection<String> ids);

    /**
     * The VM's serial console: what its guest printed since its last start, and a way to type
     * into it while it runs. The console follows the VM across restarts; see {@link VmConsole}.
     *
     * @throws NullPointerException  if {@code id} is null
     * @throws VmNotFoundException   if no VM has this id
     * @throws IllegalStateException if the manager is closed
     */
    VmConsole console(String id);

    /**
     * Registers a listener for every status change; close the returned subscription to
     * unregister. See {@link VmEventListener} for the delivery guarantees.
     *
     * @return the registration; its {@link Subscription#close() close()} throws nothing
     * @throws NullPointerException  if {@code listener} is null
     * @throws IllegalStateException if the manager is closed
     */
    Subscription subscribe(VmEventListener listener);

    /**
     * Writes the whole inventory as one JSON document, streaming: the inventory is never
     * held in memory at once. {@code out} is flushed, not closed.
     *
     * @return how many VMs were written
     * @throws InventoryJsonException if writing to {@code out} fails
     * @throws StoreException         if the inventory cannot be read
     * @throws NullPointerException   if {@code out} is null
     * @throws IllegalStateException  if the manager is closed
     */
    long exportJson(OutputStream out);

    /**
     * Creates the VMs of a document written by {@link #exportJson} as one batch, in status
     * {@code STOPPED} (their specs are kept, their runtime state is not), as
     * {@link #createAll} does. {@code in} is not closed.
     *
     * @return the VMs created, in the document's order
     * @throws InventoryJsonException   if reading {@code in} fails or the document is not such
     *                                  a document, naming what is wrong and where; nothing is
     *                                  created
     * @throws InvalidVmSpecException   if a spec in the document breaks a rule
     * @throws VmAlreadyExistsException naming every id that is taken or repeated
     * @throws DriverException          if provisioning fails; nothing is stored
     * @throws StoreException           if the inventory cannot be written
     * @throws NullPointerException     if {@code in} is null
     * @throws IllegalStateException    if the manager is closed
     */
    List<Vm> importJson(InputStream in);

    // ---------------------------------------------------------------- snapshots

    /**
     * Takes a snapshot of the VM: of a {@code STOPPED} VM its disks; of a {@code RUNNING} or
     * {@code PAUSED} one its disks and its memory and device state together, so that
     * {@link #revert} resumes the guest where it was. Same as
     * {@link #snapshot(String, String, SnapshotMode)} with {@link SnapshotMode#AUTOMATIC}.
     */
    Snapshot snapshot(String vmId, String name);

    /**
     * Takes a snapshot of the VM's disks that can change (neither read-only nor CD-ROMs; all must
     * be qcow2) and, in mode {@link SnapshotMode#AUTOMATIC} of an active VM, of its memory. Its
     * parent is the snapshot the VM is at ({@link Snapshot#current()}), and it becomes the
     * current one. The snapshots are stored in the inventory apart from the VM and read only by
     * {@link #snapshots}.
     *
     * <p>Crash-safe, as {@link #revert} and {@link #deleteSnapshot} are: a call cut off by a crash
     * of this process is finished or rolled back when a manager next opens on the same inventory,
     * so that the inventory's tree and the images agree. Listeners receive a
     * {@link io.horcrux.model.VmEvent.Kind#SNAPSHOT_TAKEN} event with the name as subject. There is
     * no progress to report: QEMU saves a VM's memory in one step and tells nothing until it is done.
     *
     * @param name the snapshot's name, unique for the VM, following the rules of VM ids
     * @throws InvalidSnapshotException       if the name breaks the rule of ids, the VM has no
     *                                        disk that can hold a snapshot, or one of them is raw;
     *                                        nothing reaches the driver
     * @throws SnapshotAlreadyExistsException if the VM has a snapshot of that name
     * @throws VmNotFoundException            if there is no VM with this id
     * @throws IllegalVmStateException        if the VM is not {@code STOPPED}, {@code RUNNING}
     *                                        or {@code PAUSED}
     * @throws DriverException                if the driver fails; no part of the snapshot is kept
     * @throws NullPointerException           if an argument is null
     * @throws IllegalStateException          if the manager is closed
     */
    Snapshot snapshot(String vmId, String name, SnapshotMode mode);

    /**
     * The VM's snapshots, oldest first: the nodes of its snapshot tree, each naming its parent.
     *
     * @throws VmNotFoundException   if there is no VM with this id
     * @throws NullPointerException  if {@code vmId} is null
     * @throws IllegalStateException if the manager is closed
     */
    List<Snapshot> snapshots(String vmId);

    /**
     * Brings the VM back to one of its snapshots, which becomes its current one (a snapshot taken
     * next starts a branch from it). Of a snapshot without memory the disks go back and the VM
     * is {@code STOPPED} (stopped first, with the driver's default grace, if it ran); of one with
     * memory the VM is {@code RUNNING} or {@code PAUSED} as it was when taken, the guest running
     * on from that instant (a stopped VM is started first).
     *
     * @throws SnapshotNotFoundException if the VM has no snapshot of that name (another VM's
     *                                   snapshot is not one of its own)
     * @throws InvalidSnapshotException  if the name breaks the rule of ids
     * @throws VmNotFoundException       if there is no VM with this id
     * @throws IllegalVmStateException   if the VM is not {@code STOPPED}, {@code RUNNING} or
     *                                   {@code PAUSED}
     * @throws DriverException           if the driver fails
     * @throws NullPointerException      if an argument is null
     * @throws IllegalStateException     if the manager is closed
     */
    Vm revert(String vmId, String name);

    /**
     * Deletes one of the VM's snapshots, keeping its disks' current content; its children hang
     * from its parent now, and if it was current its parent is.
     *
     * @throws SnapshotNotFoundException if the VM has no snapshot of that name
     * @throws InvalidSnapshotException  if the name breaks the rule of ids
     * @throws VmNotFoundException       if there is no VM with this id
     * @throws IllegalVmStateException   if the VM is not {@code STOPPED}, {@code RUNNING} or
     *                                   {@code PAUSED}
     * @throws DriverException           if the driver fails; the snapshot is kept
     * @throws NullPointerException      if an argument is null
     * @throws IllegalStateException     if the manager is closed
     */
    void deleteSnapshot(String vmId, String name);

    // ---------------------------------------------------------------- templates and clones

    /**
     * Makes a {@code STOPPED} VM a template: its status becomes {@link io.horcrux.model.VmStatus#TEMPLATE}
     * for good, its disk images read-only bases that are never written again (the QEMU driver
     * makes them read-only files and only ever opens them read-only: as the backing files of
     * linked clones, or the source of full ones). A template never starts and never changes:
     * start, stop, snapshots, reverts and moves are refused with an {@link IllegalVmStateException}
     * naming the rule. It is cloned ({@link #clone}), listed with
     * {@code VmQuery.all().withStatus(VmStatus.TEMPLATE)}, and deleted once no linked clone
     * uses it. Listeners get one {@code TEMPLATE_MADE} event, {@code STOPPED -> TEMPLATE}.
     *
     * <pre>{@code
     * vms.makeTemplate("golden");
     * vms.clone("golden", "web-1", CloneMode.LINKED);     // milliseconds: overlays on golden's disks
     * vms.start("web-1");
     * }</pre>
     *
     * @return the template
     * @throws VmNotFoundException        if there is no VM with this id
     * @throws IllegalVmStateException    if the VM is not {@code STOPPED} (a template already, or active)
     * @throws VmOwnedElsewhereException  if another host owns the VM (its disks are there)
     * @throws DriverException            if the driver fails; the VM stays {@code STOPPED}
     * @throws StoreException             if the inventory cannot be written; nothing is changed
     * @throws NullPointerException       if {@code id} is null
     * @throws IllegalStateException      if the manager is closed
     */
    Vm makeTemplate(String id);

    /**
     * Clones a VM under the id {@code newId}, named like the id; see
     * {@link #clone(String, String, String, CloneMode, ProgressListener, Cancellation)}.
     */
    Vm clone(String sourceId, String newId, CloneMode mode);

    /**
     * Makes a new VM, {@code STOPPED} at version 1, from {@code sourceId}: with its own id and
     * name, new MAC addresses (generated, as for a NIC without one) and a new cloud-init
     * instance-id (its id: the default meta-data names it, and an {@code instance-id} the
     * source's meta-data sets is replaced), the source's labels, and a spec otherwise the
     * source's. Its disks:
     * <ul>
     *   <li>{@link CloneMode#LINKED}, only of a template: a qcow2 overlay on each of the template's
     *       disks (which must all be qcow2, CD-ROMs aside), made in milliseconds. The clone's
     *       writes never reach the template; the template cannot be deleted while the clone
     *       exists ({@link TemplateInUseException}).</li>
     *   <li>{@link CloneMode#FULL}, of a template or a {@code STOPPED} VM: an independent copy of
     *       each disk, as long as the copy takes, its progress to {@code listener} on this thread
     *       (and the log, at INFO each quarter), stopped by {@code cancellation} or an interrupt
     *       of this thread.</li>
     * </ul>
     * A CD-ROM's ISO is attached in place, as for the source. A refused, failed or cancelled
     * clone leaves nothing behind: no row, no disk file. Listeners get a {@code CLONED} event on
     * the source (the subject: the clone's id) and a {@code CREATED} event on the clone (the
     * subject: the source's id).
     *
     * @param name the clone's name (the rules of {@link VmSpec#name()}); null for its id
     * @return the clone
     * @throws InvalidVmSpecException      if {@code newId} or {@code name} breaks the spec's rules,
     *                                     or a linked clone's template has a raw disk
     * @throws VmAlreadyExistsException    if {@code newId} is taken (the source's own id too)
     * @throws VmNotFoundException         if there is no VM with the id {@code sourceId}
     * @throws IllegalVmStateException     if a linked clone's source is not a template, or a full
     *                                     clone's is neither a template nor {@code STOPPED}
     * @throws VmOwnedElsewhereException   if another host owns the source (its disks are there)
     * @throws OperationCancelledException if cancelled before the clone was stored; nothing is kept
     * @throws DriverException             if the driver fails; nothing is kept
     * @throws StoreException              if the inventory cannot be written; nothing is kept
     * @throws NullPointerException        if an argument other than {@code name} is null
     * @throws IllegalStateException       if the manager is closed
     */
    Vm clone(String sourceId, String newId, String name, CloneMode mode, ProgressListener listener,
             Cancellation cancellation);

    /**
     * The cache's hit and miss counts and size; all zero when the cache is off. Works after
     * {@link #close()} too.
     */
    CacheStats cacheStats();

    /**
     * Closes the driver (leaving VMs running unless configured otherwise) and the store, and
     * delivers pending events. Idempotent; every other method throws
     * {@link IllegalStateException} afterwards.
     *
     * @throws HorcruxException if the driver or the store fails to close; both are closed
     *                          anyway, and the first failure is the cause
     */
    @Override
    void close();

    /**
     * Settings of a {@link VmManager}. Each setting may be given once; {@link #build()} checks
     * them and may be called once.
     *
     * <table>
     *   <caption>Settings</caption>
     *   <tr><th>setting</th><th>default</th></tr>
     *   <tr><td>{@link #store}</td><td>required</td></tr>
     *   <tr><td>{@link #driver}</td><td>required</td></tr>
     *   <tr><td>{@link #cacheMaximumSize}</td><td>10,000 VMs; 0 turns the cache off</td></tr>
     *   <tr><td>{@link #cacheExpireAfterAccess}</td><td>none (the cache is coherent; expiry only frees memory)</td></tr>
     *   <tr><td>{@link #recordCacheStats}</td><td>true</td></tr>
     *   <tr><td>{@link #batchExecutor}</td><td>a pool of {@link #batchParallelism} daemon threads owned by the manager</td></tr>
     *   <tr><td>{@link #batchParallelism}</td><td>max(2, available processors)</td></tr>
     *   <tr><td>{@link #maxMemoryMiB}</td><td>1,048,576 MiB (1 TiB) per VM</td></tr>
     *   <tr><td>{@link #meterRegistry}</td><td>none: no metrics</td></tr>
     *   <tr><td>{@link #clock}</td><td>{@link Clock#systemUTC()}</td></tr>
     *   <tr><td>{@link #stopVmsOnClose}</td><td>false: VMs outlive the manager</td></tr>
     *   <tr><td>{@link #host}</td><td>{@value io.horcrux.model.Vm#DEFAULT_HOST}</td></tr>
     *   <tr><td>{@link #leaseTtl}</td><td>10 s (shared stores only)</td></tr>
     *   <tr><td>{@link #leaseRenewal}</td><td>2 s (shared stores only)</td></tr>
     *   <tr><td>{@link #takeoverGrace}</td><td>5 s (shared stores only)</td></tr>
     * </table>
     */
    final class Builder {
        VmStore store;
        VmDriver driver;
        long cacheMaximumSize = 10_000;
        Duration cacheExpireAfterAccess;
        boolean recordCacheStats = true;
        Executor batchExecutor;
        int batchParallelism = Math.max(2, Runtime.getRuntime().availableProcessors());
        long maxMemoryMiB = 1L << 20;
        OperationMetrics metrics = OperationMetrics.NONE;
        Clock clock = Clock.systemUTC();
        boolean stopVmsOnClose;
        String host = Vm.DEFAULT_HOST;
        Duration leaseTtl = Duration.ofSeconds(10);
        Duration leaseRenewal = Duration.ofSeconds(2);
        Duration takeoverGrace = Duration.ofSeconds(5);
        private final java.util.Set<String> given = new java.util.HashSet<>();
        private boolean built;

        Builder() {
        }

        /**
         * The inventory; the manager owns it from now on and closes it. Required. Give a store
         * to one manager only: the manager caches what it stores and assumes nobody else writes.
         *
         * @throws NullPointerException  if {@code store} is null
         * @throws IllegalStateException if already set, or after {@link #build()}
         */
        public Builder store(VmStore store) {
            once("store");
            this.store = Objects.requireNonNull(store, "store");
            return this;
        }

        /**
         * The hypervisor driver; the manager owns it from now on and closes it. Required.
         *
         * @throws NullPointerException  if {@code driver} is null
         * @throws IllegalStateException if already set, or after {@link #build()}
         */
        public Builder driver(VmDriver driver) {
            once("driver");
            this.driver = Objects.requireNonNull(driver, "driver");
            return this;
        }

        /**
         * How many VMs the cache holds at most; 0 turns caching off. Default 10,000.
         *
         * @throws IllegalArgumentException if {@code size} is negative
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder cacheMaximumSize(long size) {
            once("cacheMaximumSize");
            if (size < 0) {
                throw new IllegalArgumentException("cacheMaximumSize must not be negative, was " + size);
            }
            this.cacheMaximumSize = size;
            return this;
        }

        /**
         * Drops cached VMs not read for this long. Default: never.
         *
         * @throws IllegalArgumentException if {@code duration} is zero or negative
         * @throws NullPointerException     if {@code duration} is null
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder cacheExpireAfterAccess(Duration duration) {
            once("cacheExpireAfterAccess");
            Objects.requireNonNull(duration, "cacheExpireAfterAccess");
            if (duration.isNegative() || duration.isZero()) {
                throw new IllegalArgumentException("cacheExpireAfterAccess must be positive, was " + duration);
            }
            this.cacheExpireAfterAccess = duration;
            return this;
        }

        /**
         * Whether the cache counts hits and misses for {@link VmManager#cacheStats()}. Default true.
         *
         * @throws IllegalStateException if already set, or after {@link #build()}
         */
        public Builder recordCacheStats(boolean record) {
            once("recordCacheStats");
            this.recordCacheStats = record;
            return this;
        }

        /**
         * The executor of {@code startAll}, {@code stopAll}, {@code deleteAll} and {@code statsAll}. The caller
         * keeps ownership: the manager does not shut it down. Default: a pool owned by the manager.
         *
         * @throws NullPointerException  if {@code executor} is null
         * @throws IllegalStateException if already set, or after {@link #build()}
         */
        public Builder batchExecutor(Executor executor) {
            once("batchExecutor");
            this.batchExecutor = Objects.requireNonNull(executor, "batchExecutor");
            return this;
        }

        /**
         * Threads of the default batch pool. Default max(2, available processors).
         *
         * @throws IllegalArgumentException if {@code threads} is not between 1 and 1024
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder batchParallelism(int threads) {
            once("batchParallelism");
            if (threads < 1 || threads > 1024) {
                throw new IllegalArgumentException("batchParallelism must be between 1 and 1024, was " + threads);
            }
            this.batchParallelism = threads;
            return this;
        }

        /**
         * The most memory one VM may have, in MiB. Default 1 TiB.
         *
         * @throws IllegalArgumentException if outside {@link VmSpec#MIN_MEMORY_MIB} to
         *                                  {@link VmSpec#MAX_MEMORY_MIB}
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder maxMemoryMiB(long maxMemoryMiB) {
            once("maxMemoryMiB");
            if (maxMemoryMiB < VmSpec.MIN_MEMORY_MIB || maxMemoryMiB > VmSpec.MAX_MEMORY_MIB) {
                throw new IllegalArgumentException("maxMemoryMiB must be between " + VmSpec.MIN_MEMORY_MIB + " and "
                        + VmSpec.MAX_MEMORY_MIB + ", was " + maxMemoryMiB);
            }
            this.maxMemoryMiB = maxMemoryMiB;
            return this;
        }

        /**
         * Publishes the {@code horcrux.vm.operation} timer (tags {@code operation},
         * {@code outcome}) and cache meters ({@code horcrux.cache.size},
         * {@code horcrux.cache.requests}) to this registry. Needs Micrometer on the class path,
         * an optional dependency. Default: no metrics.
         *
         * @throws NullPointerException  if {@code registry} is null
         * @throws IllegalStateException if already set, or after {@link #build()}
         */
        public Builder meterRegistry(MeterRegistry registry) {
            once("meterRegistry");
            this.metrics = new MicrometerMetrics(Objects.requireNonNull(registry, "meterRegistry"));
            return this;
        }

        /**
         * The clock of timestamps and events. Default {@link Clock#systemUTC()}.
         *
         * @throws NullPointerException  if {@code clock} is null
         * @throws IllegalStateException if already set, or after {@link #build()}
         */
        public Builder clock(Clock clock) {
            once("clock");
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Whether {@link VmManager#close()} force-stops every active VM. Default false.
         *
         * @throws IllegalStateException if already set, or after {@link #build()}
         */
        public Builder stopVmsOnClose(boolean stop) {
            once("stopVmsOnClose");
            this.stopVmsOnClose = stop;
            return this;
        }

        /**
         * The host this manager runs as: it owns the VMs it creates, and starts, stops and
         * supervises only the VMs its host owns; it lists and reads all of them. Every manager
         * on a store that several hosts share needs a name of its own (one manager per host
         * name at a time). Default {@value io.horcrux.model.Vm#DEFAULT_HOST}, which is also
         * the owner of VMs stored before VMs had owners.
         *
         * @throws IllegalArgumentException if {@code host} breaks the rule of VM ids,
         *                                  {@code [a-z0-9][a-z0-9-]{0,62}}, named in the message
         * @throws NullPointerException     if {@code host} is null
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder host(String host) {
            once("host");
            Objects.requireNonNull(host, "host");
            if (!Vm.isHostName(host)) {
                throw new IllegalArgumentException("host '" + host + "' " + Vm.hostNameRule());
            }
            this.host = host;
            return this;
        }

        /**
         * How long this host's lease on a shared store lasts after each renewal, by the
         * database's clock. A host that could not renew for {@code ttl} minus one
         * {@link #leaseRenewal renewal period} (by its own monotonic clock) force-stops its VMs.
         * Default 10 s; at least twice the renewal period (checked by {@link #build()}) and at
         * most 1 hour. Unused with a single-host store.
         *
         * @throws IllegalArgumentException if not between 200 ms and 1 hour
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder leaseTtl(Duration ttl) {
            once("leaseTtl");
            this.leaseTtl = between("leaseTtl", ttl, Duration.ofMillis(200), Duration.ofHours(1));
            return this;
        }

        /**
         * How often this host renews its lease on a shared store (its heartbeat), and looks for
         * dead hosts to take over from. Default 2 s; from 50 ms to 30 minutes, and at most half
         * the {@link #leaseTtl} (checked by {@link #build()}).
         *
         * @throws IllegalArgumentException if not between 50 ms and 30 minutes
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder leaseRenewal(Duration period) {
            once("leaseRenewal");
            this.leaseRenewal = between("leaseRenewal", period, Duration.ofMillis(50), Duration.ofMinutes(30));
            return this;
        }

        /**
         * How long after another host's lease expired this host may take over its VMs. The
         * dead host fenced itself one renewal period before its lease expired; the grace covers
         * the time its force-stop takes and clock rate differences. Default 5 s; from 0 to 1 hour.
         *
         * @throws IllegalArgumentException if negative or above 1 hour
         * @throws IllegalStateException    if already set, or after {@link #build()}
         */
        public Builder takeoverGrace(Duration grace) {
            once("takeoverGrace");
            this.takeoverGrace = between("takeoverGrace", grace, Duration.ZERO, Duration.ofHours(1));
            return this;
        }

        private static Duration between(String setting, Duration value, Duration min, Duration max) {
            Objects.requireNonNull(value, setting);
            if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
                throw new IllegalArgumentException(setting + " must be between " + min + " and " + max + ", was " + value);
            }
            return value;
        }

        /**
         * Builds the manager: reattaches to the VMs the store says are active, and removes
         * what the driver provisioned for VMs the store does not know.
         *
         * With a store that several hosts share, it first takes this host's lease (and from
         * then on renews it every {@link #leaseRenewal}), and reattaches only to its own VMs.
         *
         * @throws IllegalStateException    if the store or driver is missing, or on a second call
         * @throws IllegalArgumentException if {@link #leaseTtl} is shorter than twice
         *                                  {@link #leaseRenewal}; nothing is opened
         * @throws StoreException           if the inventory cannot be read, or the host's lease
         *                                  cannot be taken; the store and the driver are closed
         */
        public VmManager build() {
            if (built) {
                throw new IllegalStateException("this builder already built a VmManager");
            }
            if (leaseTtl.compareTo(leaseRenewal.multipliedBy(2)) < 0) {
                throw new IllegalArgumentException("leaseTtl (" + leaseTtl + ") must be at least twice leaseRenewal ("
                        + leaseRenewal + "): a host renews several times within its lease and fences itself one"
                        + " renewal period before it runs out");
            }
            if (store == null || driver == null) {
                throw new IllegalStateException("a VmManager needs " + (store == null ? "a store" : "")
                        + (store == null && driver == null ? " and " : "") + (driver == null ? "a driver" : ""));
            }
            built = true;
            return new DefaultVmManager(this);
        }

        private void once(String setting) {
            if (built) {
                throw new IllegalStateException("this builder already built a VmManager");
            }
            if (!given.add(setting)) {
                throw new IllegalStateException(setting + " was already set");
            }
        }
    }
}
