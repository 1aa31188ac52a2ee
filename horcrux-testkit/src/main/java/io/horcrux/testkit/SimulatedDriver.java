package io.horcrux.testkit;

import io.horcrux.DriverException;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.DriverObserver;
import io.horcrux.spi.VmDriver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A {@link VmDriver} that runs no hypervisor but models one faithfully, in the spirit of
 * libvirt's {@code test:///default}: the same state machine, the same notices of changes
 * behind the manager's back, and the same errors as the QEMU driver, in memory. It passes the
 * same {@code VmDriverContract} as the QEMU driver.
 *
 * <p>Use it to test code built on a {@link io.horcrux.VmManager} without QEMU, and to provoke
 * what real VMs do rarely:
 * <ul>
 *   <li>{@link #crash(String, String)} and {@link #guestPowerOff(String)}: the process dies
 *       or the guest shuts down on its own; {@link #guestPanic(String)}: the guest's kernel
 *       panics; {@link #guestReboot(String)}: the guest reboots and runs on;</li>
 *   <li>{@link #print(String, String)}: the guest prints on its serial console, which also
 *       echoes what is written to it ({@link #console(String)});</li>
 *   <li>{@link #stats(String)}: live stats of a running or paused VM: its uptime from the
 *       driver's clock ({@link Builder#clock(Clock)}), vCPU time that grows while it runs (as
 *       if its guest kept one vCPU busy) and stands still while it is paused, its spec's memory
 *       as resident memory, and disk counters that move only when the test says the guest did
 *       I/O ({@link #diskWrite(String, String, long)}, {@link #diskRead(String, String, long)});
 *       all begin again at each start;</li>
 *   <li>disks made from images ({@link io.horcrux.model.DiskSpec#overlay},
 *       {@link io.horcrux.model.DiskSpec#copyOf copyOf}, {@link io.horcrux.model.DiskSpec#cdrom cdrom}):
 *       the source images are checked on the host as the QEMU driver checks them
 *       ({@link #check(VmSpec)}), copies report their progress and can be cancelled
 *       ({@link Builder#copyTime(Duration)}), and a read-only disk refuses
 *       {@link #diskWrite(String, String, long) writes};</li>
 *   <li>snapshots ({@link #snapshot}, {@link #revert}, {@link #deleteSnapshot}): each writable
 *       disk holds a text the test writes ({@link #writeDisk(String, String, String)}) and the
 *       guest's memory a text ({@link #setGuestMemory(String, String)}, forgotten when the VM
 *       stops); a snapshot saves the disks' texts and, with memory, the memory's, and a revert
 *       brings them back, so a test sees what a revert restored;</li>
 *   <li>templates and clones ({@link #makeTemplate}, {@link #provisionClone}): a template's disks
 *       refuse {@link #writeDisk writes} and it refuses to start; a clone's disks start with its
 *       source's texts (a linked clone's reads fall through to the template, which never
 *       changes, so it is the same) and its writes stay its own; a full clone is a simulated
 *       copy of every disk, with progress and cancel ({@link Builder#copyTime(Duration)});
 *       {@link #isTemplate(String)} tells;</li>
 *   <li>{@link #failNext(Operation, RuntimeException)}: the next call of an operation throws;</li>
 *   <li>{@link Builder#operationDelay(Duration)}: every lifecycle call takes this long;</li>
 *   <li>{@link Builder#guestShutdownTime(Duration)}: how long guests take to honour a
 *       graceful stop ({@code null}: they ignore it, as a guest without an OS does).</li>
 * </ul>
 *
 * <p>Port forwards behave as under QEMU, without binding anything: a running VM's
 * {@link VmRuntime#forwards()} lists its spec's forwards with a host port of 0 replaced by one
 * the driver chose (from 40000 up, never one another running VM of this
 * driver holds), and a start asking for a fixed host port that another running VM of this driver
 * holds fails with a {@link DriverException} naming the port. Tap NICs are accepted as they are:
 * there is no host to look the device up on.
 *
 * <p>Thread-safe. Closing forgets every VM, as if the host had been switched off.
 */
public final class SimulatedDriver implements VmDriver {

    /** The operations whose next call {@link #failNext} can make fail. */
    public enum Operation { PROVISION, DEPROVISION, START, STOP, PAUSE, RESUME, RESET, ATTACH,
        /** {@link SimulatedDriver#snapshot}, {@link SimulatedDriver#revert} and {@link SimulatedDriver#deleteSnapshot}. */
        SNAPSHOT, REVERT, DELETE_SNAPSHOT,
        /** {@link SimulatedDriver#makeTemplate} and {@link SimulatedDriver#provisionClone}. */
        MAKE_TEMPLATE, CLONE,
        /** {@link SimulatedDriver#stats(String)}, which takes no {@link Builder#operationDelay time}. */
        STATS }

    private final Duration operationDelay;
    private final Duration guestShutdownTime;
    private final Duration copyTime;
    private final Clock clock;
    private final Map<String, SimulatedVm> vms = new ConcurrentHashMap<>();
    private final Map<String, Queue<RuntimeException>> faults = new ConcurrentHashMap<>();
    /** The first host port the driver chooses for a forward asked with host port 0. */
    static final int FIRST_CHOSEN_PORT = 40000;
    /** Guards the host ports of running VMs' forwards: a start's choice and check are one step. */
    private final Object ports = new Object();
    private int nextChosenPort = FIRST_CHOSEN_PORT;
    private volatile DriverObserver observer = (id, status, reason) -> { };
    private volatile boolean closed;

    private SimulatedDriver(Builder builder) {
        this.operationDelay = builder.operationDelay;
        this.guestShutdownTime = builder.guestShutdownTime;
        this.copyTime = builder.copyTime;
        this.clock = builder.clock;
    }

    /** A driver whose operations take no time and whose guests shut down at once. */
    public static SimulatedDriver create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return "simulated";
    }

    @Override
    public void setObserver(DriverObserver observer) {
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    /** Makes the next call of {@code operation}, for any VM, throw {@code failure} instead of acting. */
    public void failNext(Operation operation, RuntimeException failure) {
        faults.computeIfAbsent(operation.name(), o -> new ConcurrentLinkedQueue<>())
                .add(Objects.requireNonNull(failure, "failure"));
    }

    /** Makes the next call of {@code operation} for the VM {@code vmId} throw {@code failure}. */
    public void failNext(Operation operation, String vmId, RuntimeException failure) {
        faults.computeIfAbsent(operation.name() + '/' + Objects.requireNonNull(vmId, "vmId"),
                o -> new ConcurrentLinkedQueue<>()).add(Objects.requireNonNull(failure, "failure"));
    }

    /** Kills the VM's simulated process, as a {@code kill -9} would: it becomes CRASHED. */
    public void crash(String vmId, String reason) {
        endBehindTheBack(vmId, VmStatus.CRASHED, reason);
    }

    /** The guest powers off by itself: the VM becomes STOPPED. */
    public void guestPowerOff(String vmId) {
        endBehindTheBack(vmId, VmStatus.STOPPED, "guest powered off");
    }

    /** The guest's kernel panics: the VM becomes CRASHED, as with QEMU's pvpanic device. */
    public void guestPanic(String vmId) {
        print(vmId, "Kernel panic - not syncing: simulated\n");
        endBehindTheBack(vmId, VmStatus.CRASHED, "guest panicked");
    }

    /**
     * The guest reboots by itself and runs on: the VM stays RUNNING, listeners hear of the
     * reset, and the console begins a second boot.
     *
     * @throws DriverException if the VM is not running
     */
    public void guestReboot(String vmId) {
        SimulatedVm vm = existing(vmId);
        if (vm.status != VmStatus.RUNNING) {
            throw new DriverException("VM '" + vmId + "' is not running");
        }
        print(vmId, "reboot: Restarting system\n");
        observer.guestReset(vmId, "guest rebooted");
    }

    /**
     * The guest prints {@code text} on its serial console.
     *
     * @throws DriverException if the VM is not running
     */
    public void print(String vmId, String text) {
        Objects.requireNonNull(text, "text");
        SimulatedVm vm = existing(vmId);
        if (!vm.console.isLive()) {
            throw new DriverException("VM '" + vmId + "' is not running");
        }
        vm.console.print(text);
    }

    /** The VM's console: what the test printed since its last start and the echo of writes. */
    @Override
    public java.util.Optional<io.horcrux.spi.GuestConsole> console(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        SimulatedVm vm = vms.get(vmId);
        return vm == null ? java.util.Optional.empty() : java.util.Optional.of(vm.console);
    }

    /**
     * The guest writes {@code bytes} to the named disk in one request: the disk's written bytes
     * grow by {@code bytes} and its write requests by one.
     *
     * @throws DriverException          if the VM is not running or paused, or the disk is
     *                                  read-only (a CD-ROM, say)
     * @throws IllegalArgumentException if the VM has no disk of that name, or {@code bytes} is
     *                                  negative
     */
    public void diskWrite(String vmId, String disk, long bytes) {
        SimulatedStats stats = liveStats(vmId);
        if (existing(vmId).readOnlyDisks.contains(Objects.requireNonNull(disk, "disk"))) {
            throw new DriverException("VM '" + vmId + "': disk '" + disk + "' is read-only");
        }
        stats.io(vmId, disk, bytes, true);
    }

    /**
     * The guest reads {@code bytes} from the named disk in one request.
     *
     * @throws DriverException          if the VM is not running or paused
     * @throws IllegalArgumentException if the VM has no disk of that name, or {@code bytes} is
     *                                  negative
     */
    public void diskRead(String vmId, String disk, long bytes) {
        liveStats(vmId).io(vmId, Objects.requireNonNull(disk, "disk"), bytes, false);
    }

    /**
     * The stats of the VM's current run (see the class description).
     *
     * @throws DriverException if the VM is not running or paused
     */
    @Override
    public VmStats stats(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        ensureOpen();
        RuntimeException failure = pendingFault(Operation.STATS.name() + '/' + vmId);
        if (failure == null) {
            failure = pendingFault(Operation.STATS.name());
        }
        if (failure != null) {
            throw failure;
        }
        return liveStats(vmId).now();
    }

    private SimulatedStats liveStats(String vmId) {
        SimulatedVm vm = existing(vmId);
        synchronized (vm) {
            if (!vm.status.isActive() || vm.stats == null) {
                throw new DriverException("VM '" + vmId + "' is not running; it has no stats");
            }
            return vm.stats;
        }
    }

    private void endBehindTheBack(String vmId, VmStatus end, String reason) {
        SimulatedVm vm = existing(vmId);
        synchronized (vm) {
            if (!vm.status.isActive()) {
                throw new DriverException("VM '" + vmId + "' is not running");
            }
            vm.status = end;
        }
        vm.console.ended();
        observer.statusChanged(vmId, end, reason);
    }

    /** How many VMs have a simulated process now. */
    public int activeCount() {
        return (int) vms.values().stream().filter(vm -> vm.status.isActive()).count();
    }

    /**
     * Refuses, as the QEMU driver does, a disk whose source image (an overlay's base, a copy's
     * source, a CD-ROM's ISO) is missing, not a regular file, unreadable (the owner's read bit
     * is checked even for root) or not an image (empty, or a qcow2 header of a version QEMU does
     * not know): a {@link DriverException} naming each disk's {@code source} field and the rule.
     * Source images are only looked at, never written.
     */
    @Override
    public void check(VmSpec spec) {
        Objects.requireNonNull(spec, "spec");
        SimulatedImages.check(spec);
    }

    @Override
    public void provision(VmSpec spec) {
        provision(spec, io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create());
    }

    /**
     * Provisions the VM in memory after {@link #check(VmSpec)}. Each {@link io.horcrux.model.DiskKind#COPY}
     * disk is a simulated copy that takes {@link Builder#copyTime(Duration)} and reports 0, 25,
     * 50, 75 and 100 percent to {@code listener}; cancelled (or interrupted) before its end, it
     * throws an {@link io.horcrux.OperationCancelledException} and nothing is provisioned.
     */
    @Override
    public void provision(VmSpec spec, io.horcrux.ProgressListener listener, io.horcrux.Cancellation cancellation) {
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancellation, "cancellation");
        act(Operation.PROVISION, spec.id());
        check(spec);
        if (vms.containsKey(spec.id())) {
            throw new DriverException("VM '" + spec.id() + "' is already provisioned");
        }
        SimulatedImages.copy(spec, copyTime, listener, cancellation);
        if (vms.putIfAbsent(spec.id(), new SimulatedVm(spec)) != null) {
            throw new DriverException("VM '" + spec.id() + "' is already provisioned");
        }
    }

    @Override
    public void deprovision(VmSpec spec) {
        act(Operation.DEPROVISION, spec.id());
        remove(spec.id(), "stop it before deprovisioning");
    }

    @Override
    public Set<String> provisionedIds() {
        return Set.copyOf(vms.keySet());
    }

    @Override
    public void removeOrphan(String vmId) {
        remove(VmSpec.requireValidId(vmId), "it is not an orphan");
    }

    private void remove(String vmId, String ifRunning) {
        vms.computeIfPresent(vmId, (id, vm) -> {
            if (vm.status.isActive()) {
                throw new DriverException("VM '" + id + "' is running; " + ifRunning);
            }
            return null;
        });
    }

    @Override
    public VmRuntime start(VmSpec spec) {
        act(Operation.START, spec.id());
        SimulatedVm vm = existing(spec.id());
        synchronized (vm) {
            if (vm.status.isActive()) {
                throw new DriverException("VM '" + spec.id() + "' is already running");
            }
            if (vm.template) {
                throw new DriverException("VM '" + spec.id() + "' is a template: its disks are read-only bases,"
                        + " never started");
            }
            vm.forwards = bindForwards(spec);
            vm.status = VmStatus.RUNNING;
            vm.stats = new SimulatedStats(spec, clock);
            vm.console.started();
        }
        return runtimeOf(spec.id(), vm);
    }

    @Override
    public io.horcrux.spi.StopOutcome stop(String vmId, Duration grace) {
        Objects.requireNonNull(grace, "grace");
        act(Operation.STOP, vmId);
        SimulatedVm vm = existing(vmId);
        boolean guestHonours = !grace.isZero() && guestShutdownTime != null && guestShutdownTime.compareTo(grace) <= 0;
        if (!grace.isZero()) {
            sleep(guestHonours ? guestShutdownTime : grace);
        }
        boolean wasActive;
        synchronized (vm) {
            wasActive = vm.status.isActive();
            vm.status = VmStatus.STOPPED;
        }
        vm.content.stopped();
        vm.console.ended();
        if (!wasActive) {
            return io.horcrux.spi.StopOutcome.NOT_RUNNING;
        }
        return guestHonours ? io.horcrux.spi.StopOutcome.GUEST_POWERED_OFF : io.horcrux.spi.StopOutcome.ENDED;
    }

    @Override
    public void pause(String vmId) {
        transition(vmId, Operation.PAUSE, VmStatus.RUNNING, VmStatus.PAUSED);
    }

    @Override
    public void resume(String vmId) {
        transition(vmId, Operation.RESUME, VmStatus.PAUSED, VmStatus.RUNNING);
    }

    @Override
    public void reset(String vmId) {
        act(Operation.RESET, vmId);
        SimulatedVm vm = existing(vmId);
        synchronized (vm) {
            if (!vm.status.isActive()) {
                throw new DriverException("VM '" + vmId + "' is not running");
            }
        }
    }

    private void transition(String vmId, Operation operation, VmStatus from, VmStatus to) {
        act(operation, vmId);
        SimulatedVm vm = existing(vmId);
        synchronized (vm) {
            if (vm.status != from && vm.status != to) {
                throw new DriverException("VM '" + vmId + "' is " + vm.status + ", cannot "
                        + operation.name().toLowerCase(java.util.Locale.ROOT));
            }
            vm.status = to;
            if (to == VmStatus.PAUSED) {
                vm.stats.paused();
            } else {
                vm.stats.resumed();
            }
        }
    }

    @Override
    public VmStatus status(String vmId) {
        ensureOpen();
        SimulatedVm vm = vms.get(vmId);
        return vm == null ? VmStatus.STOPPED : vm.status;
    }

    @Override
    public java.util.Optional<VmRuntime> runtime(String vmId) {
        ensureOpen();
        SimulatedVm vm = vms.get(vmId);
        return vm != null && vm.status.isActive() ? java.util.Optional.of(runtimeOf(vmId, vm)) : java.util.Optional.empty();
    }

    private static VmRuntime runtimeOf(String vmId, SimulatedVm vm) {
        return new VmRuntime(0, "simulated:" + vmId, vm.forwards);
    }

    /** The spec's forwards as bound: fixed host ports checked against other running VMs, 0 replaced by a free one. */
    private List<PortForward> bindForwards(VmSpec spec) {
        synchronized (ports) {
            List<PortForward> held = new ArrayList<>();
            vms.forEach((id, other) -> {
                if (!id.equals(spec.id()) && other.status.isActive()) {
                    held.addAll(other.forwards);
                }
            });
            List<PortForward> bound = new ArrayList<>();
            for (NicSpec nic : spec.nics()) {
                for (PortForward f : nic.forwards()) {
                    if (f.hostPort() != 0) {
                        for (PortForward h : held) {
                            if (overlaps(h, f)) {
                                throw new DriverException("VM '" + spec.id() + "': host port " + f.protocol().lowerCase()
                                        + " " + f.hostAddress() + ":" + f.hostPort() + " of forward " + f
                                        + " is in use by another VM");
                            }
                        }
                    }
                    bound.add(f);
                }
            }
            for (int i = 0; i < bound.size(); i++) {
                PortForward f = bound.get(i);
                if (f.hostPort() == 0) {
                    PortForward chosen;
                    do {
                        chosen = f.withHostPort(nextChosenPort);
                        nextChosenPort = nextChosenPort >= 65535 ? FIRST_CHOSEN_PORT : nextChosenPort + 1;
                    } while (isHeld(chosen, held) || isHeld(chosen, bound));
                    bound.set(i, chosen);
                }
            }
            return List.copyOf(bound);
        }
    }

    private static boolean isHeld(PortForward f, List<PortForward> held) {
        return held.stream().anyMatch(h -> h != f && overlaps(h, f));
    }

    /** Same protocol and port, on the same address or where one listens on every address. */
    private static boolean overlaps(PortForward a, PortForward b) {
        return a.protocol() == b.protocol() && a.hostPort() == b.hostPort() && (a.hostAddress().equals(b.hostAddress())
                || a.hostAddress().equals("0.0.0.0") || b.hostAddress().equals("0.0.0.0"));
    }

    // ---------------------------------------------------------------- snapshots

    /**
     * The guest writes {@code content} to the named writable disk, replacing what it held: what a
     * snapshot saves and a revert brings back. Works whatever the VM's status (a stopped VM's disk
     * is written as by {@code qemu-img} on the host).
     *
     * @throws DriverException          if the VM is not provisioned
     * @throws IllegalArgumentException if it has no writable disk of that name
     */
    public void writeDisk(String vmId, String disk, String content) {
        SimulatedVm vm = existing(vmId);
        if (vm.template) {
            throw new DriverException("VM '" + vmId + "' is a template: its disks are read-only bases");
        }
        vm.content.write(Objects.requireNonNull(disk, "disk"), Objects.requireNonNull(content, "content"));
    }

    /** What the named writable disk holds: "" until {@link #writeDisk} wrote to it. */
    public String diskContent(String vmId, String disk) {
        return existing(vmId).content.read(Objects.requireNonNull(disk, "disk"));
    }

    /**
     * The guest keeps {@code value} in its memory (a tmpfs, say): forgotten when the VM stops,
     * saved by a snapshot with memory.
     *
     * @throws DriverException if the VM is not running or paused
     */
    public void setGuestMemory(String vmId, String value) {
        SimulatedVm vm = existing(vmId);
        if (!vm.status.isActive()) {
            throw new DriverException("VM '" + vmId + "' is not running");
        }
        vm.content.setMemory(Objects.requireNonNull(value, "value"));
    }

    /** What the guest keeps in its memory: "" after a start. */
    public String guestMemory(String vmId) {
        return existing(vmId).content.memory();
    }

    /** Whether the VM's simulated disks hold a snapshot of that name. */
    public boolean hasSnapshot(String vmId, String name) {
        return existing(vmId).content.has(Objects.requireNonNull(name, "name"));
    }

    @Override
    public boolean supportsSnapshots() {
        return true;
    }

    @Override
    public void snapshot(Vm vm, String name, boolean withMemory) {
        act(Operation.SNAPSHOT, vm.id());
        SimulatedVm simulated = existing(vm.id());
        synchronized (simulated) {
            if (withMemory && !simulated.status.isActive()) {
                throw new DriverException("VM '" + vm.id() + "' is not running: there is no memory to save");
            }
            simulated.content.take(VmSpec.requireValidId(name), simulated.status, withMemory);
        }
    }

    @Override
    public VmStatus revert(Vm vm, io.horcrux.model.Snapshot snapshot) {
        act(Operation.REVERT, vm.id());
        SimulatedVm simulated = existing(vm.id());
        synchronized (simulated) {
            VmStatus before = simulated.status;
            VmStatus after = simulated.content.revert(snapshot, before);
            if (after.isActive() && after != before) {
                simulated.status = after;
                if (after == VmStatus.PAUSED) {
                    simulated.stats.paused();
                } else {
                    simulated.stats.resumed();
                }
            }
            return after;
        }
    }

    @Override
    public void deleteSnapshot(Vm vm, String name) {
        act(Operation.DELETE_SNAPSHOT, vm.id());
        existing(vm.id()).content.delete(name);
    }

    /** Each writable disk's snapshots; a simulated VM's disks are snapshotted together. */
    @Override
    public Map<String, java.util.Set<String>> snapshotNames(Vm vm) {
        return existing(vm.id()).content.names();
    }

    // ---------------------------------------------------------------- templates and clones

    /** Whether the VM was made a template ({@link #makeTemplate}). */
    public boolean isTemplate(String vmId) {
        return existing(vmId).template;
    }

    @Override
    public boolean supportsClones() {
        return true;
    }

    @Override
    public void makeTemplate(Vm vm) {
        act(Operation.MAKE_TEMPLATE, vm.id());
        SimulatedVm simulated = existing(vm.id());
        synchronized (simulated) {
            if (simulated.status.isActive()) {
                throw new DriverException("VM '" + vm.id() + "' is running; stop it before making it a template");
            }
            simulated.template = true;
        }
    }

    /**
     * Provisions the clone with its source's disk texts; a full clone copies each disk but CD-ROMs
     * as a simulated copy ({@link Builder#copyTime(Duration)}, progress, cancel), a linked one
     * needs a template.
     */
    @Override
    public void provisionClone(Vm source, VmSpec clone, io.horcrux.model.CloneMode mode,
                               io.horcrux.ProgressListener listener, io.horcrux.Cancellation cancellation) {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancellation, "cancellation");
        act(Operation.CLONE, clone.id());
        SimulatedVm from = existing(source.id());
        if (mode == io.horcrux.model.CloneMode.LINKED && !from.template) {
            throw new DriverException("VM '" + source.id() + "' is not a template: a linked clone's disks are"
                    + " overlays on a template's");
        }
        if (from.status.isActive()) {
            throw new DriverException("VM '" + source.id() + "' is running; its disks change meanwhile");
        }
        SimulatedImages.check(clone, false); // its disks come from the source's, not from copies' sources
        if (vms.containsKey(clone.id())) {
            throw new DriverException("VM '" + clone.id() + "' is already provisioned");
        }
        if (mode == io.horcrux.model.CloneMode.FULL) {
            SimulatedImages.copy(clone, disk -> disk.kind() != io.horcrux.model.DiskKind.CDROM, copyTime, listener,
                    cancellation);
        }
        SimulatedVm made = new SimulatedVm(clone);
        made.content.copyFrom(from.content);
        if (vms.putIfAbsent(clone.id(), made) != null) {
            throw new DriverException("VM '" + clone.id() + "' is already provisioned");
        }
    }

    @Override
    public VmStatus attach(Vm vm) {
        act(Operation.ATTACH, vm.id());
        return status(vm.id());
    }

    @Override
    public void close() {
        closed = true;
        vms.clear();
    }

    /** {@inheritDoc} */
    @Override
    public boolean isProvisioned(String vmId) {
        return vms.containsKey(vmId);
    }

    private SimulatedVm existing(String vmId) {
        SimulatedVm vm = vms.get(vmId);
        if (vm == null) {
            throw new DriverException("VM '" + vmId + "' is not provisioned");
        }
        return vm;
    }

    private void act(Operation operation, String vmId) {
        ensureOpen();
        RuntimeException failure = pendingFault(operation.name() + '/' + vmId);
        if (failure == null) {
            failure = pendingFault(operation.name());
        }
        if (failure != null) {
            throw failure;
        }
        sleep(operationDelay);
    }

    private RuntimeException pendingFault(String key) {
        Queue<RuntimeException> pending = faults.get(key);
        return pending == null ? null : pending.poll();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the driver is closed");
        }
    }

    private static void sleep(Duration duration) {
        if (duration.isZero()) {
            return;
        }
        try {
            Thread.sleep(duration.toMillis(), duration.toNanosPart() % 1_000_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("interrupted", e);
        }
    }

    private static final class SimulatedVm {
        volatile VmStatus status = VmStatus.STOPPED;
        /** The forwards of the current run, host ports bound. */
        volatile List<PortForward> forwards = List.of();
        /** Made a template: its disks are read-only bases, and it never starts. */
        volatile boolean template;
        /** The stats of the current or last run; null before the first start. */
        SimulatedStats stats;
        final SimulatedConsole console;
        final Set<String> readOnlyDisks;
        final SimulatedContent content;

        SimulatedVm(VmSpec spec) {
            content = new SimulatedContent(spec);
            console = new SimulatedConsole(spec.id());
            readOnlyDisks = spec.disks().stream().filter(io.horcrux.model.DiskSpec::readOnly)
                    .map(io.horcrux.model.DiskSpec::name).collect(java.util.stream.Collectors.toUnmodifiableSet());
        }
    }

    /** Settings of a {@link SimulatedDriver}. */
    public static final class Builder {
        private Duration operationDelay = Duration.ZERO;
        private Duration guestShutdownTime = Duration.ZERO;
        private Duration copyTime = Duration.ZERO;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /**
         * The clock of the VMs' uptime and vCPU time in {@link SimulatedDriver#stats(String)};
         * give a clock the test moves to make them exact. Default {@link Clock#systemUTC()}.
         *
         * @throws NullPointerException if {@code clock} is null
         */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * How long the copy of each {@link io.horcrux.model.DiskSpec#copyOf} disk takes when a VM
         * is provisioned, in four equal steps, each reported to the progress listener; long
         * enough, a test can cancel a copy in the middle. Default zero.
         */
        public Builder copyTime(Duration time) {
            this.copyTime = requireNonNegative(time, "copyTime");
            return this;
        }

        /** How long each lifecycle call takes; default zero. */
        public Builder operationDelay(Duration delay) {
            this.operationDelay = requireNonNegative(delay, "operationDelay");
            return this;
        }

        /**
         * How long a guest takes to power off after a graceful stop request; {@code null} for a
         * guest that ignores the request, so that a graceful stop waits out its grace period
         * and then forces. Default zero.
         */
        public Builder guestShutdownTime(Duration time) {
            this.guestShutdownTime = time == null ? null : requireNonNegative(time, "guestShutdownTime");
            return this;
        }

        public SimulatedDriver build() {
            return new SimulatedDriver(this);
        }

        private static Duration requireNonNegative(Duration d, String name) {
            Objects.requireNonNull(d, name);
            if (d.isNegative()) {
                throw new IllegalArgumentException(name + " must not be negative, was " + d);
            }
            return d;
        }
    }
}
