package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.internal.HostProcess;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.model.Architecture;
import io.horcrux.model.Violation;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.DriverObserver;
import io.horcrux.spi.GuestConsole;
import io.horcrux.spi.StopOutcome;
import io.horcrux.spi.VmDriver;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link VmDriver} that runs each VM as one daemonized {@code qemu-system-x86_64} process,
 * talks to it over one persistent {@link QmpClient} connection, and watches it.
 *
 * <pre>{@code
 * QemuDriver driver = QemuDriver.builder()
 *     .stateDirectory(dataDir.resolve("vms"))
 *     .build();
 * }</pre>
 *
 * <h2>Process model</h2>
 * QEMU is started with {@code -daemonize}: it outlives the JVM, so closing the driver (or the
 * {@code VmManager}) leaves VMs running, and a new driver over the same state directory
 * {@link #attach(Vm) reattaches} through the pidfile, after checking in
 * {@code /proc/<pid>/cmdline} that the process is this VM's QEMU (a reused pid is never
 * mistaken for it). Each VM has a directory {@code <stateDirectory>/<vmId>/} (mode 0700) with
 * its disks ({@code <disk>.qcow2} or {@code <disk>.raw}), {@code qemu.pid},
 * {@code serial.log} (the console log), the QMP socket {@code qmp.sock} and the serial console's
 * {@code console.sock} (mode 0600). A socket path longer than the 106 bytes a Unix socket path
 * may have from Java moves to {@code /tmp/horcrux-<hash>/<vmId>.qmp} (or {@code .console}; mode 0700).
 *
 * <h2>The serial console</h2>
 * The driver reads each VM's first serial port from its start (and again after a reattach) into
 * a bounded log ({@link Builder#consoleLogBytes(int)}); {@link #console(String)} gives it, and a
 * way to type while the VM runs.
 *
 * <h2>The operator monitor</h2>
 * QEMU serves one client per monitor, and the driver holds the VM's. With
 * {@link Builder#operatorMonitor(boolean)}, each VM also gets a second QMP monitor,
 * {@code operator.sock} (mode 0600; {@code /tmp/horcrux-<hash>/<vmId>.operator} when the path is
 * too long), for an operator's tools ({@code qmp-shell}, {@code socat}, a monitoring agent, or
 * {@link QmpClient#connect(Path, Duration)}) without disturbing the driver.
 * {@link #operatorMonitor(String)} gives its path. What is done through it is supervised like
 * anything else that happens to the VM (see below).
 *
 * <h2>Stopping</h2>
 * {@link #stop(String, Duration)} sends {@code system_powerdown}, waits up to the grace period,
 * then sends {@code quit}, then SIGTERM, then SIGKILL, and returns once the process is gone
 * (absent, a zombie, or its QMP socket closed after {@code quit}: it never waits for another
 * process to reap it) and its socket and pidfile are removed.
 *
 * <h2>Supervision</h2>
 * A QEMU that exits or is killed behind the driver's back closes its QMP connection; the driver
 * notices at once and tells the {@link DriverObserver}: {@link VmStatus#STOPPED} when the guest
 * powered off or QEMU quit on a monitor command, {@link VmStatus#CRASHED} otherwise. STOP and
 * RESUME events caused by another monitor (the operator's, or the guest) become PAUSED and
 * RUNNING notices; a guest's own reset a {@link DriverObserver#guestReset reset notice};
 * GUEST_PANICKED (every VM has a {@code pvpanic} device) a CRASHED notice, QEMU then ending or
 * keeping the paused process as {@link Builder#guestPanic(GuestPanicAction)} says.
 *
 * <h2>Least privilege</h2>
 * VM directories are 0700 and QMP sockets and logs 0600; QEMU runs with {@code -sandbox on}
 * (seccomp) when it supports it, and, with {@link Builder#runAs(String)}, as an unprivileged
 * user once it has opened its files.
 *
 * <h2>One driver per state directory</h2>
 * A driver claims its state directory with an OS lock on {@code <stateDirectory>/.lock} until
 * {@link #close()}: a second driver on the same directory, in this process or another, fails
 * at {@code build()} naming the holder. The OS drops the lock when the process dies. So the
 * VM directories are this driver's alone, and {@link #provisionedIds()} may report the ones
 * the inventory does not know for removal.
 *
 * <h2>Accelerator and CPU model</h2>
 * Chosen at {@link Builder#build()} by running guest code under each candidate, never guessed;
 * see there, {@link #accelerator()} and {@link #cpuModel()}. A guest the hypervisor cannot run
 * (QEMU's run state {@code internal-error}) ends as {@link VmStatus#CRASHED} with a reason that
 * suggests the fix.
 *
 * <h2>Threads</h2>
 * Thread-safe; the manager serialises the calls for one VM, calls for different VMs run in
 * parallel. The driver's threads do not grow with the number of VMs: one daemon thread serves
 * every running VM's monitor and console ({@link MonitorLoop}), one timer checks the processes,
 * and a pool of at most {@value #EVENT_THREADS} daemon threads handles their events; each runs
 * only while there is work (none is left once no VM runs). {@link #close()} ends them and
 * leaves the VMs running.
 */
public final class QemuDriver implements VmDriver {
    private static final Logger log = LoggerFactory.getLogger(QemuDriver.class);
    /** The run state QEMU enters when the accelerator cannot run the guest's code (a KVM internal error). */
    static final String INTERNAL_ERROR = "internal-error";
    private static final int MIN_CONSOLE_BYTES = 4 << 10;
    private static final int MAX_CONSOLE_BYTES = 64 << 20;
    /** The most threads handling VMs' events at once. */
    static final int EVENT_THREADS = 4;
    /** How often every running process is checked (an exit is normally noticed at once, by its monitor's end). */
    private static final Duration PROCESS_CHECK = Duration.ofSeconds(2);

    private final StateDirectory state;
    private final QemuImg qemuImg;
    private final QemuCommandLine commandLine;
    private final Duration defaultStopGrace;
    private final boolean operatorMonitor;
    private final int consoleBytes;
    private final String acceleratorChoice;
    private final ProcessTable table = new ProcessTable();
    private final ExecutorService watcher;
    private final ScheduledExecutorService timer;
    private final MonitorLoop loop;
    private final StopSequence stops;
    private final Supervisor supervisor;
    private final QemuLauncher launcher;
    private final SourceImages sources;
    private final SourcedDisks sourcedDisks;
    private final CloudInitSeed seeds;
    private final QemuClones clones;
    private volatile boolean closed;

    private QemuDriver(Builder b, StateDirectory state, QemuBinaries binaries, HostProbe.Choice choice) {
        this.state = state;
        this.qemuImg = binaries.qemuImg();
        this.defaultStopGrace = b.defaultStopGrace;
        this.operatorMonitor = Boolean.TRUE.equals(b.operatorMonitor);
        QemuCommandLine line = QemuCommandLine.of(binaries.qemu(), choice.accelerator(), b.machine, binaries.sandbox())
                .withCpuModel(choice.cpuModel());
        line = line.withPanicAction(b.guestPanic);
        this.commandLine = b.runAs == null ? line : line.runningAs(b.runAs);
        this.acceleratorChoice = choice.summary();
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor events = new ThreadPoolExecutor(EVENT_THREADS, EVENT_THREADS, 2, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "horcrux-qemu-events-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        events.allowCoreThreadTimeOut(true);
        this.watcher = events;
        ScheduledThreadPoolExecutor checks = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "horcrux-qemu-timer");
            t.setDaemon(true);
            return t;
        });
        // Both threads run only while there is work: none is left by a driver whose VMs all stopped.
        checks.setKeepAliveTime(2, TimeUnit.SECONDS);
        checks.allowCoreThreadTimeOut(true);
        checks.setRemoveOnCancelPolicy(true);
        this.timer = checks;
        this.loop = MonitorLoop.onDemand("horcrux-qemu-loop");
        this.stops = new StopSequence(b.qmpTimeout);
        this.supervisor = new Supervisor(table, stops, watcher,
                "the hypervisor could not run the guest's code and stopped it (QEMU run state internal-error, "
                + choice.accelerator() + " with CPU model " + choice.cpuModel() + "); QEMU was ended. Try another"
                + " CPU model (QemuDriver.Builder.cpuModel, or leave it unset to let the probe choose) or Accelerator.TCG",
                timer);
        supervisor.checkProcessesEvery(PROCESS_CHECK);
        this.consoleBytes = b.consoleLogBytes;
        this.seeds = CloudInitSeed.locate();
        this.launcher = new QemuLauncher(commandLine, state, table, supervisor, stops, watcher, b.qmpTimeout,
                operatorMonitor, consoleBytes, seeds, loop);
        this.sources = new SourceImages(qemuImg, state.path());
        this.sourcedDisks = new SourcedDisks(qemuImg, sources);
        this.clones = new QemuClones(state, qemuImg);
    }

    /** A builder; {@link Builder#stateDirectory(Path)} is required. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return "qemu";
    }

    /**
     * The accelerator VMs run with: {@link Accelerator#KVM} or {@link Accelerator#TCG}, never
     * AUTO; chosen at {@code build()} by running guest code under it (see {@link Builder#build()}).
     */
    public Accelerator accelerator() {
        return commandLine.accelerator();
    }

    /**
     * The CPU model VMs run with ({@code -cpu}): the one {@link Builder#cpuModel(String) set}, or
     * the first of the probe's candidates that ran guest code on this host, for example
     * {@code host} on a KVM host, {@code max} under TCG.
     */
    public String cpuModel() {
        return commandLine.cpuModel();
    }

    /**
     * Why VMs run with {@link #accelerator()} and {@link #cpuModel()}: the choice and, for every
     * candidate refused on the way, QEMU's own words, for example {@code "accelerator TCG, CPU
     * model max (KVM refused -cpu host: failed to set MSR 0x10a to 0x69; KVM starts -cpu qemu64
     * but cannot run guest code: KVM internal error. Suberror: 1 (emulation failure))"}.
     */
    public String acceleratorChoice() {
        return acceleratorChoice;
    }

    /** The absolute, normalised state directory. */
    public Path stateDirectory() {
        return state.path();
    }

    /** The qemu-img runner this driver provisions disks with. */
    public QemuImg qemuImg() {
        return qemuImg;
    }

    /** The user QEMU switches to ({@link Builder#runAs(String)}), empty when it keeps the JVM's user. */
    public Optional<String> runAs() {
        return Optional.ofNullable(commandLine.runAs());
    }

    @Override
    public void setObserver(DriverObserver observer) {
        supervisor.setObserver(observer);
    }

    @Override
    public Duration defaultStopGrace() {
        return defaultStopGrace;
    }

    /**
     * Refuses architectures other than {@link Architecture#X86_64} (an
     * {@link InvalidVmSpecException}); source images of disks (overlay bases, copied
     * images, CD-ROM ISOs) that are missing, not a regular file, unreadable (the owner's read
     * bit is checked even for root), inside the state directory (another VM's files), not an
     * image {@code qemu-img} reads, empty, a CD-ROM that is not raw, a chain whose backing file
     * is missing or has no recorded format, or larger than the disk's size (a
     * {@link DriverException} listing each disk's field and rule); and cloud-init when the host
     * has no tool to build its seed image with. Runs {@code qemu-img info --backing-chain} once
     * per source file, until that file changes.
     *
     * @throws InvalidVmSpecException   for an architecture other than X86_64
     * @throws DriverException          for a source image the host refuses, or a spec with
     *                                  cloud-init on a host without {@code genisoimage}
     *                                  ({@code xorrisofs} or {@code mkisofs})
     */
    @Override
    public void check(VmSpec spec) {
        Objects.requireNonNull(spec, "spec");
        if (spec.architecture() != Architecture.X86_64) {
            throw new InvalidVmSpecException(List.of(new Violation("architecture",
                    "the QEMU driver runs X86_64 guests only, was " + spec.architecture())));
        }
        sources.check(spec);
        seeds.check(spec);
    }

    /**
     * What {@link #check} refuses of a VM that has its disks already (one to start, a clone):
     * all of it but the sources of copies, which are read only when a copy is made and may be
     * gone since.
     */
    private void checkProvisioned(VmSpec spec) {
        Objects.requireNonNull(spec, "spec");
        if (spec.architecture() != Architecture.X86_64) {
            throw new InvalidVmSpecException(List.of(new Violation("architecture",
                    "the QEMU driver runs X86_64 guests only, was " + spec.architecture())));
        }
        sources.check(spec, false);
        seeds.check(spec);
    }

    /**
     * Creates {@code <stateDirectory>/<vmId>/} (0700) and one image per disk: a qcow2 image
     * written by the driver itself, the one {@code qemu-img create} makes but without a process
     * to spawn; a raw one with {@code qemu-img create}. A raw disk larger than the free space is
     * refused. On any failure everything created is removed.
     *
     * @throws DriverException if the directory exists or an image cannot be created
     */
    @Override
    public void provision(VmSpec spec) {
        provision(spec, io.horcrux.ProgressListener.NONE, io.horcrux.Cancellation.create());
    }

    /**
     * As {@link #provision(VmSpec)}, with the disks made from images: an
     * {@link io.horcrux.model.DiskKind#OVERLAY overlay} by {@code qemu-img create -f qcow2 -b
     * <base> -F <base's format>} (the format recorded in the overlay, so QEMU never guesses it;
     * the base only read), a {@link io.horcrux.model.DiskKind#COPY copy} by
     * {@code qemu-img convert -p -f <source's format>} with its progress to {@code listener}
     * (and {@code qemu-img resize} when the disk is larger than the source), a CD-ROM attached
     * in place. Cancelled, qemu-img is ended and the VM's directory removed.
     *
     * @throws io.horcrux.OperationCancelledException if cancelled or interrupted; nothing is kept
     * @throws DriverException                        as {@link #provision(VmSpec)}, or if a
     *                                                source image is refused (see {@link #check})
     */
    @Override
    public void provision(VmSpec spec, io.horcrux.ProgressListener listener, io.horcrux.Cancellation cancellation) {
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancellation, "cancellation");
        ensureOpen();
        check(spec);
        cancellation.throwIfCancelled("provisioning VM '" + spec.id() + "'");
        state.provision(spec, qemuImg, (disk, image) -> sourcedDisks.make(spec, disk, image, listener, cancellation));
    }

    /**
     * Removes the VM's directory with its disks, and its socket if it lives elsewhere. Idempotent.
     *
     * @throws DriverException if the VM's QEMU still runs
     */
    @Override
    public void deprovision(VmSpec spec) {
        ensureOpen();
        removeFiles(spec.id(), "stop it before deprovisioning");
    }

    /**
     * VM directories under the state directory: one per VM provisioned and not deprovisioned.
     * Entries whose names are not VM ids are not the driver's and are left out.
     */
    @Override
    public Set<String> provisionedIds() {
        ensureOpen();
        return state.provisionedIds();
    }

    /** Whether the VM has its directory here: one of {@link #provisionedIds()}. */
    @Override
    public boolean isProvisioned(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        ensureOpen();
        return state.isProvisioned(vmId);
    }

    /** Removes the VM's directory and disks, as {@link #deprovision} does, for a VM with no spec left. */
    @Override
    public void removeOrphan(String vmId) {
        ensureOpen();
        removeFiles(VmSpec.requireValidId(vmId), "it is not an orphan");
    }

    /** A VM whose guest panicked with {@link GuestPanicAction#KEEP_PAUSED} keeps its process until it is started or removed. */
    private void endKeptCrash(String id) {
        QemuProcess vm = table.get(id);
        if (vm != null && vm.status() == VmStatus.CRASHED) {
            vm.requestStop();
            StopOutcome how = stops.stop(vm, Duration.ZERO);
            table.forget(vm);
            log.info("VM {}: the process kept after its crash ended ({})", id, how.reason());
        }
    }

    private void removeFiles(String id, String ifRunning) {
        endKeptCrash(id);
        if (table.isRunning(id) || QemuIdentity.liveProcess(state.files(id)).isPresent()) {
            throw new DriverException("VM '" + id + "' is running; " + ifRunning);
        }
        state.remove(id);
        table.clearCrash(id);
    }

    /**
     * Spawns QEMU, waits for its QMP greeting and returns with the VM running. On any failure
     * the process is killed and its socket and pidfile removed, and the exception carries
     * QEMU's first error lines and names the accelerator and CPU model.
     *
     * <p>Before QEMU runs: the spec is checked as {@link #check} does, but for the sources of
     * copied disks, which were read when the copies were made and may be gone; a template is
     * refused (it never starts); each tap NIC's device must exist (a {@link DriverException} says how
     * to make it), each fixed host port of a forward must be free (one naming the port when it is
     * not), and the cloud-init seed ({@code seed.cidata.iso} in the VM's directory) is built, or
     * rebuilt when the spec's cloud-init changed since it was built. The runtime facts returned
     * list the forwards with the host ports QEMU bound (read back from QEMU, so a host port 0
     * shows the port it chose).
     */
    @Override
    public VmRuntime start(VmSpec spec) {
        ensureOpen();
        checkProvisioned(spec);
        if (clones.isTemplate(spec.id())) {
            throw new DriverException("VM '" + spec.id() + "' is a template: its disk images are read-only bases,"
                    + " never started; start a clone of it");
        }
        endKeptCrash(spec.id());
        QemuProcess vm = launcher.start(spec);
        return runtimeOf(vm);
    }

    /**
     * The VM's pidfile path, the argument after {@code -pidfile} on every QEMU command line of
     * it (also on the launcher and the intermediate process of QEMU's daemonizing forks): one
     * file per VM under this driver's state directory, which no other driver uses.
     */
    @Override
    public Optional<String> fencingMark(String vmId) {
        ensureOpen();
        return Optional.of(state.files(VmSpec.requireValidId(vmId)).pidFile().toString());
    }

    /**
     * Stops the VM: {@code system_powerdown}, up to {@code grace} for the guest, then
     * {@code quit}, then SIGTERM, then SIGKILL. {@link Duration#ZERO} sends {@code quit} at once.
     * Returns when the process is gone and its socket and pidfile are removed; a VM that is
     * not running is only cleaned up.
     *
     * @throws DriverException if the process survives SIGKILL
     */
    @Override
    public StopOutcome stop(String vmId, Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (grace.isNegative()) {
            throw new IllegalArgumentException("grace must not be negative, was " + grace);
        }
        ensureOpen();
        QemuProcess vm = table.get(vmId);
        if (vm == null) {
            VmFiles files = state.files(vmId);
            QemuIdentity.liveProcess(files).ifPresent(pid -> HostProcess.stat(pid).ifPresent(s ->
                    stops.forceGone(new QemuProcess(vmId, files, pid, s.startTicks(), watcher))));
            files.removeRuntimeFiles();
            table.clearCrash(vmId);
            return StopOutcome.NOT_RUNNING;
        }
        vm.requestStop();
        long started = System.nanoTime();
        StopOutcome outcome = stops.stop(vm, grace);
        table.forget(vm);
        table.clearCrash(vmId);
        log.info("VM {}: {} (grace {} ms) in {} ms", vmId, outcome.reason(), grace.toMillis(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        return outcome;
    }

    @Override
    public void pause(String vmId) {
        QemuProcess vm = connected(vmId, "pause");
        vm.command("stop", VmStatus.PAUSED);
    }

    @Override
    public void resume(String vmId) {
        QemuProcess vm = connected(vmId, "resume");
        vm.command("cont", VmStatus.RUNNING);
    }

    @Override
    public void reset(String vmId) {
        connected(vmId, "reset").qmp().execute("system_reset");
    }

    // ---------------------------------------------------------------- templates and clones (QemuClones)

    /**
     * Templates are VM directories marked so, their disk images read-only files (0400) that are
     * only ever opened read-only again; a linked clone's disks are qcow2 overlays on them, written
     * by the driver without a process, a full clone's {@code qemu-img convert} copies.
     */
    @Override
    public boolean supportsClones() {
        return true;
    }

    /**
     * Marks the VM's directory a template and makes its disk images read-only (0400); a start of
     * it is refused from then on.
     *
     * @throws DriverException if the VM runs, is not provisioned here or lacks a disk image
     */
    @Override
    public void makeTemplate(Vm vm) {
        ensureOpen();
        if (table.isRunning(vm.id()) || QemuIdentity.liveProcess(state.files(vm.id())).isPresent()) {
            throw new DriverException("VM '" + vm.id() + "' is running; stop it before making it a template");
        }
        clones.makeTemplate(vm);
    }

    /**
     * Makes the clone's directory with, per disk, a qcow2 overlay on the template's image
     * ({@code LINKED}: the template's format recorded in it) or a {@code qemu-img convert -p -f
     * <format>} copy of the source's ({@code FULL}, progress to {@code listener}); cancelled or
     * failed, nothing of the clone is left.
     *
     * @throws io.horcrux.OperationCancelledException if cancelled or interrupted; nothing is kept
     * @throws DriverException                        if the source runs, is not provisioned here,
     *                                                is not a template for a linked clone, or
     *                                                qemu-img fails
     */
    @Override
    public void provisionClone(Vm source, VmSpec clone, io.horcrux.model.CloneMode mode,
                               io.horcrux.ProgressListener listener, io.horcrux.Cancellation cancellation) {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(cancellation, "cancellation");
        ensureOpen();
        if (table.isRunning(source.id()) || QemuIdentity.liveProcess(state.files(source.id())).isPresent()) {
            throw new DriverException("VM '" + source.id() + "' is running; its disks change meanwhile");
        }
        checkProvisioned(clone); // its disks come from the source's images, not from copies' sources
        clones.provision(source, clone, mode, listener, cancellation);
    }

    // ---------------------------------------------------------------- snapshots (QemuSnapshots)

    /**
     * Internal qcow2 snapshots, in the disk images themselves: {@code qemu-img snapshot} on each disk
     * of a stopped VM (all or none), the {@code snapshot-save}, {@code snapshot-load} and
     * {@code snapshot-delete} jobs of a running one, one QMP {@code transaction} for a disk-only
     * snapshot of a running VM.
     */
    @Override
    public boolean supportsSnapshots() {
        return true;
    }

    @Override
    public void snapshot(Vm vm, String name, boolean withMemory) {
        ensureOpen();
        VmSpec.requireValidId(name);
        QemuProcess process = table.get(vm.id());
        if (process == null) {
            if (withMemory) {
                throw new DriverException("VM '" + vm.id() + "' is not running: there is no memory to save");
            }
            snapshots().takeOffline(vm.spec(), files(vm.id()), name);
        } else {
            snapshots().takeLive(vm, process.qmp(), name, withMemory);
        }
        log.info("VM {}: snapshot '{}' taken ({})", vm.id(), name, withMemory ? "disks and memory" : "disks");
    }

    @Override
    public VmStatus revert(Vm vm, io.horcrux.model.Snapshot snapshot) {
        ensureOpen();
        QemuProcess process = table.get(vm.id());
        if (snapshot.withMemory()) {
            if (process == null) {
                throw new DriverException("VM '" + vm.id() + "' is not running; a revert to snapshot '"
                        + snapshot.name() + "' (with memory) needs its process");
            }
            VmStatus after = snapshots().revertLive(vm, process.qmp(), snapshot);
            process.commanded(after);
            log.info("VM {}: reverted to snapshot '{}' with memory, {}", vm.id(), snapshot.name(), after);
            return after;
        }
        if (process != null) {
            throw new DriverException("VM '" + vm.id() + "' is running; stop it before reverting to snapshot '"
                    + snapshot.name() + "' (disks only)");
        }
        snapshots().revertOffline(vm.spec(), files(vm.id()), snapshot.name());
        log.info("VM {}: reverted to snapshot '{}' (disks)", vm.id(), snapshot.name());
        return VmStatus.STOPPED;
    }

    @Override
    public void deleteSnapshot(Vm vm, String name) {
        ensureOpen();
        VmSpec.requireValidId(name);
        QemuProcess process = table.get(vm.id());
        if (process == null) {
            snapshots().deleteOffline(vm.spec(), files(vm.id()), name);
        } else {
            snapshots().deleteLive(vm, process.qmp(), name);
        }
        log.info("VM {}: snapshot '{}' deleted", vm.id(), name);
    }

    /**
     * {@code qemu-img info} of each snapshot disk of a stopped VM; of a running one, what QEMU
     * sees ({@code query-named-block-nodes}), once every snapshot job of ours in the process has
     * concluded: a job a killed manager started runs on in QEMU and is waited for here.
     */
    @Override
    public java.util.Map<String, Set<String>> snapshotNames(Vm vm) {
        ensureOpen();
        QemuProcess process = table.get(vm.id());
        return process == null ? snapshots().namesOffline(vm.spec(), files(vm.id()))
                : snapshots().namesLive(vm, process.qmp());
    }

    private QemuSnapshots snapshots() {
        return new QemuSnapshots(qemuImg());
    }

    /**
     * The pid, QMP socket and port forwards (as bound, read from QEMU at start or reattach) of a
     * VM this driver runs (started or reattached).
     */
    @Override
    public Optional<VmRuntime> runtime(String vmId) {
        ensureOpen();
        QemuProcess vm = table.get(vmId);
        return vm == null ? Optional.empty() : Optional.of(runtimeOf(vm));
    }

    private static VmRuntime runtimeOf(QemuProcess vm) {
        return new VmRuntime(vm.pid, vm.files.qmpSocket().toString(), vm.forwards());
    }

    /**
     * Asks QEMU ({@code query-status}) for a VM this driver runs; otherwise
     * {@link VmStatus#CRASHED} if its process died without a clean shutdown since its last
     * start, else {@link VmStatus#STOPPED}.
     */
    @Override
    public VmStatus status(String vmId) {
        ensureOpen();
        QemuProcess vm = table.get(vmId);
        if (vm == null) {
            return table.hasCrashed(vmId) ? VmStatus.CRASHED : VmStatus.STOPPED;
        }
        if (vm.qmp().isOpen()) {
            try {
                vm.observed(vm.qmp().execute("query-status"));
            } catch (DriverException e) {
                log.debug("VM {}: query-status failed: {}", vmId, e.getMessage());
            }
        }
        return vm.status();
    }

    /**
     * Reconnects to the VM's QEMU if it still runs: reads the pidfile, checks that
     * {@code /proc/<pid>/cmdline} is this VM's QEMU under this state directory, and opens QMP.
     * Returns {@link VmStatus#STOPPED} (after removing stale files) when it is gone. A process
     * that is ours but whose monitor does not answer is killed, so none runs unwatched.
     */
    @Override
    public VmStatus attach(Vm vm) {
        ensureOpen();
        if (table.isRunning(vm.id())) {
            return status(vm.id());
        }
        return launcher.reattach(vm);
    }

    /**
     * The socket of the VM's operator monitor ({@link Builder#operatorMonitor(boolean)}): present
     * while this driver runs or has reattached the VM and the VM's QEMU was started with one.
     * Connect with {@link QmpClient#connect(Path, Duration)} or any QMP client; one client at a
     * time.
     */
    public Optional<Path> operatorMonitor(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        ensureOpen();
        QemuProcess vm = table.get(vmId);
        if (vm == null || !Files.exists(vm.files.operatorSocket(), LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        return Optional.of(vm.files.operatorSocket());
    }

    /**
     * The VM's serial console: while it runs (started or reattached by this driver), the live
     * console; otherwise what its last run printed, read from {@code serial.log}. Empty for a VM
     * this driver has not provisioned.
     */
    @Override
    public Optional<GuestConsole> console(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        ensureOpen();
        QemuProcess vm = table.get(vmId);
        if (vm != null && vm.console() != null) {
            return Optional.of(new QemuGuestConsole(vmId, vm.console().log(), vm.console()));
        }
        VmFiles files = state.files(VmSpec.requireValidId(vmId));
        if (!Files.isDirectory(files.directory(), LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        ConsoleLog last = ConsoleLog.resumed(files.serialLog(), consoleBytes);
        last.end();
        return Optional.of(new QemuGuestConsole(vmId, last, null));
    }

    /**
     * The live stats of a VM this driver runs (started or reattached): vCPU time summed over the
     * vCPU threads of {@code query-cpus-fast} from {@code /proc/<pid>/task/<tid>/stat}, the
     * process's {@code VmRSS}, its uptime from its start time, and {@code query-blockstats} per
     * disk of its spec. See {@link QemuStats}.
     *
     * @throws DriverException if the driver runs no process for the VM, or its monitor or
     *                         {@code /proc} cannot be read
     */
    @Override
    public VmStats stats(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        return QemuStats.read(connected(vmId, "read the stats of"));
    }

    VmFiles files(String vmId) {
        return state.files(vmId);
    }

    private QemuProcess connected(String vmId, String operation) {
        ensureOpen();
        QemuProcess vm = table.get(vmId);
        if (vm == null) {
            throw new DriverException("VM '" + vmId + "' is not running; cannot " + operation + " it");
        }
        return vm;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the QEMU driver is closed");
        }
    }

    /**
     * Closes every QMP connection and the supervision threads and releases the state directory
     * for another driver; the VMs keep running. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        supervisor.close();
        for (QemuProcess vm : table.all()) {
            vm.detach();
            vm.disconnect();
        }
        table.clear();
        loop.close();
        timer.shutdownNow();
        watcher.shutdownNow();
        state.close();
    }

    @Override
    public String toString() {
        return "QemuDriver[" + state.path() + ", " + accelerator() + " -cpu " + cpuModel() + ", " + commandLine.machine()
                + (commandLine.runAs() == null ? "" : ", runAs " + commandLine.runAs())
                + (operatorMonitor ? ", operator monitor" : "") + "]";
    }

    /**
     * Settings of a {@link QemuDriver}. Each setting may be given once; {@link #build()}
     * validates them, checks the binaries and the state directory, and fails with a
     * {@link DriverException} naming what to fix.
     */
    public static final class Builder {
        private Path stateDirectory;
        private Path qemuBinary;
        private Path qemuImgBinary;
        private Accelerator accelerator;
        private MachineType machine;
        private Duration defaultStopGrace;
        private Duration qmpTimeout;
        private BooleanSupplier kvmProbe;
        private HostProbe.Runner probeRunner;
        private String cpuModel;
        private Integer consoleLogBytes;
        private GuestPanicAction guestPanic;
        private String runAs;
        private Boolean operatorMonitor;

        private Builder() {
        }

        /** Required: where VM directories live. Created (mode 0700) if missing; must be writable. */
        public Builder stateDirectory(Path stateDirectory) {
            this.stateDirectory = once(this.stateDirectory, stateDirectory, "stateDirectory");
            return this;
        }

        /** The QEMU binary; default {@code qemu-system-x86_64} found on {@code PATH}. */
        public Builder qemuBinary(Path qemuBinary) {
            this.qemuBinary = once(this.qemuBinary, qemuBinary, "qemuBinary");
            return this;
        }

        /** The qemu-img binary; default {@code qemu-img} found on {@code PATH}. */
        public Builder qemuImgBinary(Path qemuImgBinary) {
            this.qemuImgBinary = once(this.qemuImgBinary, qemuImgBinary, "qemuImgBinary");
            return this;
        }

        /** How guests run; default {@link Accelerator#AUTO}. */
        public Builder accelerator(Accelerator accelerator) {
            this.accelerator = once(this.accelerator, accelerator, "accelerator");
            return this;
        }

        /** The machine type; default {@link MachineType#Q35}. */
        public Builder machine(MachineType machine) {
            this.machine = once(this.machine, machine, "machine");
            return this;
        }

        /** The grace period of a stop without one; default 30 seconds; zero or more. */
        public Builder defaultStopGrace(Duration grace) {
            Objects.requireNonNull(grace, "defaultStopGrace");
            if (grace.isNegative()) {
                throw new IllegalArgumentException("defaultStopGrace must not be negative, was " + grace);
            }
            this.defaultStopGrace = once(this.defaultStopGrace, grace, "defaultStopGrace");
            return this;
        }

        /**
         * How long a QMP command may take, and how long QEMU may take to greet after starting;
         * default 10 seconds; positive. QEMU's own start may take three times this.
         */
        public Builder qmpTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "qmpTimeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("qmpTimeout must be positive, was " + timeout);
            }
            this.qmpTimeout = once(this.qmpTimeout, timeout, "qmpTimeout");
            return this;
        }

        /**
         * The user QEMU runs as once it has opened its files ({@code -runas}); default none: QEMU
         * runs as the JVM's user. Needs a JVM running as root (QEMU must be able to switch user);
         * the disks, sockets and logs stay owned by root, mode 0600/0700, opened before the switch.
         *
         * @throws IllegalArgumentException if the name is not a portable user name
         *                                  ({@code [a-z_][a-z0-9_-]*}, at most 32 characters)
         */
        public Builder runAs(String user) {
            this.runAs = once(this.runAs, QemuCommandLine.requireUserName(user), "runAs");
            return this;
        }

        /**
         * Whether each VM gets a second QMP monitor for operators' tools, beside the driver's own;
         * default false. See {@link QemuDriver#operatorMonitor(String)}.
         */
        public Builder operatorMonitor(boolean enabled) {
            this.operatorMonitor = once(this.operatorMonitor, enabled, "operatorMonitor");
            return this;
        }

        /**
         * The CPU model VMs run with ({@code -cpu}), for example {@code EPYC-Rome} or
         * {@code qemu64}; default: chosen by the probe (see {@link #build()}). {@code build()}
         * then only checks it: a model QEMU does not know, or one the host refuses, fails there;
         * one that starts under KVM but cannot run guest code is kept with a warning.
         *
         * @throws IllegalArgumentException if {@code model} is not a CPU model name: a letter
         *                                  or digit, then up to 63 letters, digits, {@code .},
         *                                  {@code _} or {@code -} (no commas, spaces or feature flags)
         */
        public Builder cpuModel(String model) {
            this.cpuModel = once(this.cpuModel, HostProbe.requireModelName(model), "cpuModel");
            return this;
        }

        /**
         * How much of what each guest prints on its serial console is kept, in bytes: the newest
         * output, the oldest dropped first, in memory and in {@code serial.log} (which grows to at
         * most twice this before it is trimmed); default 1 MiB; from 4 KiB to 64 MiB.
         *
         * @throws IllegalArgumentException if out of that range
         */
        public Builder consoleLogBytes(int bytes) {
            if (bytes < MIN_CONSOLE_BYTES || bytes > MAX_CONSOLE_BYTES) {
                throw new IllegalArgumentException("consoleLogBytes must be from " + MIN_CONSOLE_BYTES + " to "
                        + MAX_CONSOLE_BYTES + ", was " + bytes);
            }
            this.consoleLogBytes = once(this.consoleLogBytes, bytes, "consoleLogBytes");
            return this;
        }

        /**
         * What QEMU does when a guest panics: end ({@link GuestPanicAction#END}, the default) or
         * keep the paused process for inspection. The VM is CRASHED either way.
         */
        public Builder guestPanic(GuestPanicAction action) {
            this.guestPanic = once(this.guestPanic, action, "guestPanic");
            return this;
        }

        /** Replaces the {@code /dev/kvm} check; for tests of the accelerator choice. */
        Builder kvmProbe(BooleanSupplier probe) {
            this.kvmProbe = once(this.kvmProbe, probe, "kvmProbe");
            return this;
        }

        /** Replaces the QEMU runs of the probe (and its cache); for tests of the accelerator choice. */
        Builder probeRunner(HostProbe.Runner runner) {
            this.probeRunner = once(this.probeRunner, runner, "probeRunner");
            return this;
        }

        /**
         * Builds the driver, after finding out what runs guests on this host.
         *
         * <p><b>The accelerator probe.</b> For each candidate (accelerator, CPU model) it starts a
         * short-lived QEMU with the configured machine type that boots a tiny guest payload built
         * from the driver's own code: it enters 64-bit mode, runs {@code cmpxchg16b},
         * {@code xsave} and {@code xrstor} as a Linux kernel does first, and reports success through
         * QEMU's {@code isa-debug-exit} device. Under KVM the candidates are {@code host}, then
         * {@code max}, then the best named 64-bit model QEMU reports usable under KVM
         * ({@code query-cpu-definitions} without {@code unavailable-features}), then
         * {@code qemu64}; the first that runs the payload to its end wins. With
         * {@link Accelerator#AUTO}, when none does (or {@code /dev/kvm} does not open), VMs run
         * under TCG with {@code max}, also checked. One INFO line names the choice and QEMU's
         * words for what was refused; a fall-back to TCG on a host whose {@code /dev/kvm} opens is
         * a WARN. {@code /proc/cpuinfo} is never consulted: a nested KVM may open and start QEMU
         * yet fail on the first guest instruction it cannot emulate.
         *
         * <p><b>Cost.</b> About 0.1 s on a working KVM host, or under TCG; on a host whose KVM
         * starts QEMU but cannot run guests, a few seconds (the candidates that start, each up to
         * its firmware and the first failing instruction). The answer is kept for this JVM and in
         * {@code <stateDirectory>/.probe/}, keyed by the QEMU binary, the settings and the host's
         * boot, so later drivers pay nothing until QEMU is upgraded or the host reboots.
         *
         * @throws DriverException          if a binary is missing or not executable, KVM was
         *                                  requested and is not usable or runs no guest code, the
         *                                  {@link #cpuModel(String) CPU model} is unknown to QEMU
         *                                  or refused by the host (the message names QEMU's words
         *                                  and the models that work here), the state directory
         *                                  cannot be created or written or another driver holds
         *                                  it (in this or another process), or {@code runAs} names
         *                                  a user this host does not have or the JVM is not root
         * @throws IllegalStateException    if the state directory was not set
         * @throws IllegalArgumentException if a path holds control characters
         */
        public QemuDriver build() {
            if (stateDirectory == null) {
                throw new IllegalStateException("stateDirectory is required");
            }
            if (machine == null) {
                machine = MachineType.Q35;
            }
            if (defaultStopGrace == null) {
                defaultStopGrace = Duration.ofSeconds(30);
            }
            if (qmpTimeout == null) {
                qmpTimeout = Duration.ofSeconds(10);
            }
            if (consoleLogBytes == null) {
                consoleLogBytes = 1 << 20;
            }
            if (guestPanic == null) {
                guestPanic = GuestPanicAction.END;
            }
            QemuBinaries binaries = QemuBinaries.locate(qemuBinary, qemuImgBinary, runAs);
            StateDirectory state = StateDirectory.claim(stateDirectory);
            try {
                HostProbe.Choice choice = AcceleratorChoice.choose(accelerator == null ? Accelerator.AUTO : accelerator,
                        cpuModel, machine, binaries.qemu(), state, kvmProbe, probeRunner);
                return new QemuDriver(this, state, binaries, choice);
            } catch (RuntimeException e) {
                state.close();
                throw e;
            }
        }

        private static <T> T once(T current, T value, String name) {
            Objects.requireNonNull(value, name);
            if (current != null) {
                throw new IllegalStateException(name + " was already set to " + current);
            }
            return value;
        }
    }
}
