package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.horcrux.DriverException;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.internal.OwnerLock;
import io.horcrux.model.Architecture;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Violation;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.DriverObserver;
import io.horcrux.spi.VmDriver;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
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
 * {@code serial.log} and the QMP socket {@code qmp.sock} (mode 0600). A socket path longer than
 * the 106 bytes a Unix socket path may have from Java moves to {@code /tmp/horcrux-<hash>/<vmId>.qmp} (mode 0700).
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
 * RUNNING notices; GUEST_PANICKED a CRASHED notice.
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
 * <h2>Threads</h2>
 * Thread-safe; the manager serialises the calls for one VM, calls for different VMs run in
 * parallel. The driver owns one daemon reader thread per running VM and a daemon pool for
 * supervision; {@link #close()} ends them and leaves the VMs running.
 */
public final class QemuDriver implements VmDriver {
    private static final Logger log = LoggerFactory.getLogger(QemuDriver.class);
    private static final Duration SIGNAL_WAIT = Duration.ofSeconds(5);
    private static final Duration EXIT_AFTER_EOF = Duration.ofSeconds(2);
    /** In the state directory; not a VM id, so never taken for a VM's directory. */
    static final String STATE_LOCK_FILE = ".lock";
    /** The run state QEMU enters when the accelerator cannot run the guest's code (a KVM internal error). */
    static final String INTERNAL_ERROR = "internal-error";
    /** In the state directory, not a VM id: the accelerator probe's payload and kept answer. */
    static final String PROBE_DIRECTORY = ".probe";
    /** How long one probe candidate may take; a working one takes well under a second. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);

    private final Path stateDirectory;
    private final Path qemuBinary;
    private final QemuImg qemuImg;
    private final Accelerator accelerator;
    private final String cpuModel;
    private final MachineType machine;
    private final Duration defaultStopGrace;
    private final Duration qmpTimeout;
    private final QemuCommandLine commandLine;
    private final String runAs;
    private final boolean operatorMonitor;
    private final OwnerLock stateLock;
    private final Map<String, QemuVm> running = new ConcurrentHashMap<>();
    private final Map<String, String> crashed = new ConcurrentHashMap<>();
    private final ExecutorService watcher;
    private volatile DriverObserver observer = (id, status, reason) -> { };
    private volatile boolean closed;

    private QemuDriver(Builder b, Path stateDirectory, OwnerLock stateLock, Path qemuBinary, Path qemuImgBinary,
                       HostProbe.Choice choice, boolean sandbox) {
        this.stateDirectory = stateDirectory;
        this.stateLock = stateLock;
        this.qemuBinary = qemuBinary;
        this.qemuImg = QemuImg.at(qemuImgBinary);
        this.accelerator = choice.accelerator();
        this.cpuModel = choice.cpuModel();
        this.machine = b.machine;
        this.defaultStopGrace = b.defaultStopGrace;
        this.qmpTimeout = b.qmpTimeout;
        QemuCommandLine line = QemuCommandLine.of(qemuBinary, accelerator, machine, sandbox).withCpuModel(cpuModel);
        this.commandLine = b.runAs == null ? line : line.runningAs(b.runAs);
        this.runAs = b.runAs;
        this.operatorMonitor = Boolean.TRUE.equals(b.operatorMonitor);
        AtomicInteger n = new AtomicInteger();
        this.watcher = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "horcrux-qemu-watch-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
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
        return accelerator;
    }

    /**
     * The CPU model VMs run with ({@code -cpu}): the one {@link Builder#cpuModel(String) set}, or
     * the first of the probe's candidates that ran guest code on this host, for example
     * {@code host} on a KVM host, {@code max} under TCG.
     */
    public String cpuModel() {
        return cpuModel;
    }

    /** The absolute, normalised state directory. */
    public Path stateDirectory() {
        return stateDirectory;
    }

    /** The qemu-img runner this driver provisions disks with. */
    public QemuImg qemuImg() {
        return qemuImg;
    }

    @Override
    public void setObserver(DriverObserver observer) {
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    @Override
    public Duration defaultStopGrace() {
        return defaultStopGrace;
    }

    /** Refuses architectures other than {@link Architecture#X86_64}. */
    @Override
    public void check(VmSpec spec) {
        Objects.requireNonNull(spec, "spec");
        if (spec.architecture() != Architecture.X86_64) {
            throw new InvalidVmSpecException(List.of(new Violation("architecture",
                    "the QEMU driver runs X86_64 guests only, was " + spec.architecture())));
        }
    }

    // ---------------------------------------------------------------- provisioning

    /**
     * Creates {@code <stateDirectory>/<vmId>/} (0700) and one image per disk with
     * {@code qemu-img create}. A raw disk larger than the free space is refused. On any failure
     * everything created is removed.
     *
     * @throws DriverException if the directory exists or an image cannot be created
     */
    @Override
    public void provision(VmSpec spec) {
        ensureOpen();
        check(spec);
        VmFiles files = files(spec.id());
        Path dir = files.directory();
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR));
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw new DriverException("VM '" + spec.id() + "': cannot provision, " + dir + " already exists");
        } catch (IOException e) {
            throw new DriverException("VM '" + spec.id() + "': cannot create " + dir + ": " + e, e);
        }
        try {
            Files.setPosixFilePermissions(dir, VmFiles.OWNER_ONLY_DIR); // the umask may have narrowed it
            for (DiskSpec disk : spec.disks()) {
                Path image = files.disk(disk);
                if (disk.format() == DiskFormat.RAW) {
                    long free = Files.getFileStore(dir).getUsableSpace();
                    if (disk.sizeBytes() > free) {
                        throw new DriverException("VM '" + spec.id() + "': disk '" + disk.name() + "' of "
                                + disk.sizeBytes() + " bytes does not fit in the " + free + " bytes free in " + dir);
                    }
                }
                qemuImg.create(image, disk.format(), disk.sizeBytes());
                Files.setPosixFilePermissions(image, VmFiles.OWNER_ONLY_FILE);
            }
            log.debug("VM {}: provisioned {} disk(s) in {}", spec.id(), spec.disks().size(), dir);
        } catch (RuntimeException | IOException e) {
            try {
                deleteTree(dir);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            if (e instanceof DriverException d) {
                throw new DriverException("VM '" + spec.id() + "': provisioning failed, nothing kept: " + d.getMessage(), d);
            }
            throw new DriverException("VM '" + spec.id() + "': provisioning failed, nothing kept: " + e, e);
        }
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
        try (Stream<Path> entries = Files.list(stateDirectory)) {
            return entries.filter(entry -> Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS))
                    .map(entry -> entry.getFileName().toString())
                    .filter(VmSpec::isValidId)
                    .collect(Collectors.toUnmodifiableSet());
        } catch (IOException e) {
            throw new DriverException("cannot list state directory " + stateDirectory + ": " + e, e);
        }
    }

    /** Removes the VM's directory and disks, as {@link #deprovision} does, for a VM with no spec left. */
    @Override
    public void removeOrphan(String vmId) {
        ensureOpen();
        removeFiles(VmSpec.requireValidId(vmId), "it is not an orphan");
    }

    private void removeFiles(String id, String ifRunning) {
        VmFiles files = files(id);
        if (running.containsKey(id) || liveProcess(files).isPresent()) {
            throw new DriverException("VM '" + id + "' is running; " + ifRunning);
        }
        try {
            deleteTree(files.directory());
            for (Path socket : files.socketsOutsideDirectory()) {
                Files.deleteIfExists(socket);
                try {
                    Files.deleteIfExists(socket.getParent());
                } catch (java.nio.file.DirectoryNotEmptyException stillUsed) {
                    // other sockets of this state directory's VMs are still there
                }
            }
        } catch (IOException e) {
            throw new DriverException("VM '" + id + "': cannot remove " + files.directory() + ": " + e, e);
        }
        crashed.remove(id);
    }

    // ---------------------------------------------------------------- start

    /**
     * Spawns QEMU, waits for its QMP greeting and returns with the VM running. On any failure
     * the process is killed and its socket and pidfile removed, and the exception carries
     * QEMU's error output.
     */
    @Override
    public VmRuntime start(VmSpec spec) {
        ensureOpen();
        check(spec);
        String id = spec.id();
        if (running.containsKey(id)) {
            throw new DriverException("VM '" + id + "' is already running");
        }
        VmFiles files = files(id);
        if (!Files.isDirectory(files.directory(), LinkOption.NOFOLLOW_LINKS)) {
            throw new DriverException("VM '" + id + "' is not provisioned: " + files.directory() + " is missing");
        }
        for (DiskSpec disk : spec.disks()) {
            if (!Files.isRegularFile(files.disk(disk), LinkOption.NOFOLLOW_LINKS)) {
                throw new DriverException("VM '" + id + "': disk image " + files.disk(disk) + " is missing");
            }
        }
        Optional<Long> leftover = liveProcess(files);
        if (leftover.isPresent()) {
            throw new DriverException("VM '" + id + "': a QEMU process of it (pid " + leftover.get()
                    + ") already runs without this driver watching it; attach or stop it first");
        }
        files.prepareSocketDirectory();
        removeRuntimeFiles(files);
        List<String> args = operatorMonitor
                ? commandLine.arguments(spec, files.directory(), files.qmpSocket(), files.operatorSocket())
                : commandLine.arguments(spec, files.directory(), files.qmpSocket());
        long started = System.nanoTime();
        QemuVm vm = null;
        try {
            Files.deleteIfExists(files.startLog());
            Files.createFile(files.startLog(), PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_FILE));
            Process launcher = new ProcessBuilder(args)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectErrorStream(true)
                    .redirectOutput(files.startLog().toFile())
                    .start();
            Duration launchTimeout = qmpTimeout.multipliedBy(3);
            if (!launcher.waitFor(launchTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                launcher.destroyForcibly();
                throw new DriverException("QEMU did not finish starting within " + launchTimeout.toSeconds() + " s");
            }
            if (launcher.exitValue() != 0) {
                throw new DriverException("QEMU exited with status " + launcher.exitValue());
            }
            long pid = readPid(files.pidFile())
                    // QEMU writes it before -daemonize lets the launcher exit and removes it when it exits.
                    .orElseThrow(() -> new DriverException("QEMU exited right after starting (its pidfile "
                            + files.pidFile() + " is gone)"));
            HostProcess.Stat stat = HostProcess.stat(pid).filter(s -> !s.isZombie())
                    .orElseThrow(() -> new DriverException("QEMU (pid " + pid + ") exited right after starting"));
            vm = new QemuVm(id, files, pid, stat.startTicks(), watcher);
            restrictSocket(files.qmpSocket());
            if (operatorMonitor) {
                restrictSocket(files.operatorSocket());
            }
            if (Files.exists(files.serialLog(), LinkOption.NOFOLLOW_LINKS)) {
                Files.setPosixFilePermissions(files.serialLog(), VmFiles.OWNER_ONLY_FILE); // QEMU honours the umask
            }
            connect(vm);
            JsonNode runState = vm.qmp.execute("query-status");
            if (INTERNAL_ERROR.equals(runState.path("status").asText())) {
                throw new DriverException(hypervisorFailure());
            }
            vm.status = statusOf(runState);
            synchronized (vm) {
                running.put(id, vm);
            }
            crashed.remove(id);
            Files.deleteIfExists(files.startLog());
            log.info("VM {}: QEMU started (pid {}, {} -cpu {}, {}) in {} ms", id, pid, accelerator, cpuModel, machine,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            if (!vm.qmp.isOpen()) {
                // It died after answering but before it was registered: supervision takes it from here.
                onDisconnect(vm, "QEMU closed the connection");
            }
            return new VmRuntime(pid, files.qmpSocket().toString());
        } catch (RuntimeException | IOException e) {
            throw startFailed(id, files, vm, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw startFailed(id, files, vm, e);
        }
    }

    private DriverException startFailed(String id, VmFiles files, QemuVm vm, Exception cause) {
        running.remove(id, vm);
        if (vm != null) {
            synchronized (vm) {
                vm.stopRequested = true;
                vm.ended = true;
            }
            if (vm.qmp != null) {
                vm.qmp.close();
            }
        }
        // The process may be running even if we never read its pid, or may be on its way out
        // having removed its pidfile (a quit from another client); either way it is gone before
        // this returns, so a new start of the VM never meets it.
        try {
            List<Long> pids = vm != null ? List.of(vm.pid) : HostProcess.find(args -> isOurs(args, files));
            for (long p : pids) {
                HostProcess.stat(p).ifPresent(stat -> forceGone(new QemuVm(id, files, p, stat.startTicks(), watcher)));
            }
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
        String output = "";
        try {
            if (Files.exists(files.startLog())) {
                output = Files.readString(files.startLog(), StandardCharsets.UTF_8).strip();
            }
            Files.deleteIfExists(files.startLog());
            Files.deleteIfExists(files.serialLog());
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
        removeRuntimeFiles(files);
        String message = cause instanceof DriverException ? cause.getMessage() : cause.toString();
        String said = QemuOutput.firstErrors(output, 3);
        return new DriverException("VM '" + id + "': start failed (" + accelerator + ", CPU model " + cpuModel + "): "
                + message + (said.isEmpty() ? "" : "; QEMU said: " + said), cause);
    }

    private void connect(QemuVm vm) {
        QmpClient client = QmpClient.connect(vm.files.qmpSocket(), qmpTimeout, vm.id, event -> onEvent(vm, event),
                QmpClient.MAX_LINE_BYTES, vm::isGone);
        vm.qmp = client;
        client.disconnected().thenAccept(reason -> onDisconnect(vm, reason));
    }

    // ---------------------------------------------------------------- stop

    /**
     * Stops the VM: {@code system_powerdown}, up to {@code grace} for the guest, then
     * {@code quit}, then SIGTERM, then SIGKILL. {@link Duration#ZERO} sends {@code quit} at once.
     * Returns when the process is gone and its socket and pidfile are removed; a VM that is
     * not running is only cleaned up.
     *
     * @throws DriverException if the process survives SIGKILL
     */
    @Override
    public void stop(String vmId, Duration grace) {
        Objects.requireNonNull(grace, "grace");
        if (grace.isNegative()) {
            throw new IllegalArgumentException("grace must not be negative, was " + grace);
        }
        ensureOpen();
        QemuVm vm = running.get(vmId);
        if (vm == null) {
            VmFiles files = files(vmId);
            liveProcess(files).flatMap(pid -> HostProcess.stat(pid).map(s -> new QemuVm(vmId, files, pid, s.startTicks(), watcher)))
                    .ifPresent(this::forceGone);
            removeRuntimeFiles(files);
            crashed.remove(vmId);
            return;
        }
        synchronized (vm) {
            vm.stopRequested = true;
        }
        long started = System.nanoTime();
        String how;
        if (!grace.isZero() && ask(vm, "system_powerdown") && waitGone(vm, grace, false)) {
            how = "exited within the grace period";
        } else if (ask(vm, "quit") && waitGone(vm, qmpTimeout, true)) {
            how = grace.isZero() ? "quit" : "quit after the grace period";
        } else {
            how = forceGone(vm);
        }
        finish(vm);
        crashed.remove(vmId);
        log.info("VM {}: stopped ({}) in {} ms", vmId, how, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /** Sends a command whose failure only means "try the next step"; false if it could not be sent. */
    private boolean ask(QemuVm vm, String command) {
        if (vm.isGone()) {
            return true;
        }
        try {
            vm.qmp.execute(command);
            return true;
        } catch (DriverException e) {
            log.debug("VM {}: '{}' failed: {}", vm.id, command, e.getMessage());
            return !vm.qmp.isOpen();
        }
    }

    /** SIGTERM, then SIGKILL; returns how it ended. */
    private String forceGone(QemuVm vm) {
        if (vm.isGone()) {
            return "already gone";
        }
        HostProcess.signal(vm.pid, vm.startTicks, false);
        if (waitGone(vm, SIGNAL_WAIT, false)) {
            return "SIGTERM";
        }
        HostProcess.signal(vm.pid, vm.startTicks, true);
        if (waitGone(vm, SIGNAL_WAIT, false)) {
            return "SIGKILL";
        }
        synchronized (vm) {
            vm.stopRequested = false;
        }
        throw new DriverException("VM '" + vm.id + "': QEMU (pid " + vm.pid + ") is still alive after SIGKILL");
    }

    /**
     * Waits until the process is absent or a zombie. With {@code eofIsExit}, a closed QMP
     * connection counts too (QEMU closes it as it exits), after a short wait for the process.
     */
    private boolean waitGone(QemuVm vm, Duration timeout, boolean eofIsExit) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long eofDeadline = Long.MAX_VALUE;
        while (true) {
            if (vm.isGone()) {
                return true;
            }
            long now = System.nanoTime();
            if (eofIsExit && vm.qmp != null && !vm.qmp.isOpen()) {
                if (eofDeadline == Long.MAX_VALUE) {
                    eofDeadline = now + EXIT_AFTER_EOF.toNanos();
                } else if (now - eofDeadline >= 0) {
                    return true;
                }
            }
            if (now - deadline >= 0) {
                return false;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DriverException("VM '" + vm.id + "': interrupted while waiting for QEMU to exit", e);
            }
        }
    }

    /** Forgets a VM whose process is gone: closes QMP, removes its socket and pidfile. */
    private void finish(QemuVm vm) {
        synchronized (vm) {
            vm.ended = true;
        }
        running.remove(vm.id, vm);
        if (vm.qmp != null) {
            vm.qmp.close();
        }
        removeRuntimeFiles(vm.files);
    }

    // ---------------------------------------------------------------- pause, resume, reset, status

    @Override
    public void pause(String vmId) {
        QemuVm vm = connected(vmId, "pause");
        vm.qmp.execute("stop");
        vm.status = VmStatus.PAUSED;
    }

    @Override
    public void resume(String vmId) {
        QemuVm vm = connected(vmId, "resume");
        vm.qmp.execute("cont");
        vm.status = VmStatus.RUNNING;
    }

    @Override
    public void reset(String vmId) {
        connected(vmId, "reset").qmp.execute("system_reset");
    }

    /** The pid and QMP socket of a VM this driver runs (started or reattached). */
    @Override
    public Optional<VmRuntime> runtime(String vmId) {
        ensureOpen();
        QemuVm vm = running.get(vmId);
        return vm == null ? Optional.empty() : Optional.of(new VmRuntime(vm.pid, vm.files.qmpSocket().toString()));
    }

    /**
     * Asks QEMU ({@code query-status}) for a VM this driver runs; otherwise
     * {@link VmStatus#CRASHED} if its process died without a clean shutdown since its last
     * start, else {@link VmStatus#STOPPED}.
     */
    @Override
    public VmStatus status(String vmId) {
        ensureOpen();
        QemuVm vm = running.get(vmId);
        if (vm == null) {
            return crashed.containsKey(vmId) ? VmStatus.CRASHED : VmStatus.STOPPED;
        }
        if (vm.qmp.isOpen()) {
            try {
                VmStatus seen = statusOf(vm.qmp.execute("query-status"));
                if (vm.status != VmStatus.CRASHED) {
                    vm.status = seen;
                }
            } catch (DriverException e) {
                log.debug("VM {}: query-status failed: {}", vmId, e.getMessage());
            }
        }
        return vm.status;
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
        String id = vm.id();
        QemuVm current = running.get(id);
        if (current != null) {
            return status(id);
        }
        VmFiles files = files(id);
        Optional<Long> pid = liveProcess(files);
        if (pid.isEmpty()) {
            removeRuntimeFiles(files);
            log.info("VM {}: no QEMU process to reattach to", id);
            return VmStatus.STOPPED;
        }
        Optional<HostProcess.Stat> stat = HostProcess.stat(pid.get());
        if (stat.isEmpty()) {
            removeRuntimeFiles(files);
            return VmStatus.STOPPED;
        }
        QemuVm attached = new QemuVm(id, files, pid.get(), stat.get().startTicks(), watcher);
        try {
            connect(attached);
            attached.status = statusOf(attached.qmp.execute("query-status"));
        } catch (DriverException e) {
            log.warn("VM {}: QEMU (pid {}) runs but its monitor does not answer; killing it: {}", id, pid.get(),
                    e.getMessage());
            synchronized (attached) {
                attached.stopRequested = true;
            }
            if (attached.qmp != null) {
                attached.qmp.close();
            }
            forceGone(attached);
            removeRuntimeFiles(files);
            return VmStatus.STOPPED;
        }
        synchronized (attached) {
            running.put(id, attached);
        }
        if (!attached.qmp.isOpen()) {
            onDisconnect(attached, "QEMU closed the connection");
        }
        log.info("VM {}: reattached to QEMU (pid {}), {}", id, pid.get(), attached.status);
        return attached.status;
    }

    private QemuVm connected(String vmId, String operation) {
        ensureOpen();
        QemuVm vm = running.get(vmId);
        if (vm == null) {
            throw new DriverException("VM '" + vmId + "' is not running; cannot " + operation + " it");
        }
        return vm;
    }

    private static VmStatus statusOf(JsonNode queryStatus) {
        String status = queryStatus.path("status").asText("");
        return switch (status) {
            case "running" -> VmStatus.RUNNING;
            case "guest-panicked", "internal-error" -> VmStatus.CRASHED;
            case "shutdown" -> VmStatus.STOPPED;
            default -> queryStatus.path("running").asBoolean(false) ? VmStatus.RUNNING : VmStatus.PAUSED;
        };
    }

    // ---------------------------------------------------------------- supervision

    private void onEvent(QemuVm vm, QmpEvent event) {
        switch (event.name()) {
            case "SHUTDOWN" -> vm.shutdownReason = event.data().path("reason").asText("unknown");
            // A STOP is a pause, or the hypervisor giving up on the guest: only the run state tells,
            // and asking for it cannot wait on the monitor's reader thread, which this is.
            case "STOP" -> inOrder(vm, () -> onStop(vm));
            case "RESUME" -> inOrder(vm, () -> changed(vm, VmStatus.PAUSED, VmStatus.RUNNING, "resumed (RESUME event)"));
            case "GUEST_PANICKED" -> {
                vm.status = VmStatus.CRASHED;
                notice(vm.id, VmStatus.CRASHED, "guest panicked");
            }
            default -> log.debug("VM {}: event {} {}", vm.id, event.name(), event.data());
        }
    }

    private void inOrder(QemuVm vm, Runnable task) {
        try {
            vm.events.execute(task);
        } catch (RejectedExecutionException e) {
            log.debug("VM {}: event while the driver closes", vm.id);
        }
    }

    private void onStop(QemuVm vm) {
        if (vm.status != VmStatus.RUNNING) {
            return; // paused already, or CRASHED by a GUEST_PANICKED that came first
        }
        String runState;
        try {
            runState = vm.qmp.execute("query-status").path("status").asText("");
        } catch (DriverException e) {
            log.debug("VM {}: query-status after STOP failed: {}", vm.id, e.getMessage());
            return; // the monitor is gone: supervision of the exit takes it from here
        }
        if (INTERNAL_ERROR.equals(runState)) {
            endAsCrashed(vm, hypervisorFailure());
        } else if (!"guest-panicked".equals(runState)) {
            changed(vm, VmStatus.RUNNING, VmStatus.PAUSED, "paused (STOP event)");
        }
    }

    /** The reason of a guest that the hypervisor stopped because it could not run its code. */
    private String hypervisorFailure() {
        return "the hypervisor could not run the guest's code and stopped it (QEMU run state internal-error, "
                + accelerator + " with CPU model " + cpuModel + "); QEMU was ended. Try another CPU model"
                + " (QemuDriver.Builder.cpuModel, or leave it unset to let the probe choose) or Accelerator.TCG";
    }

    /** Ends a VM that cannot go on (its QEMU would sit paused forever) and reports it CRASHED. */
    private void endAsCrashed(QemuVm vm, String reason) {
        synchronized (vm) {
            if (vm.stopRequested || vm.ended || vm.detached) {
                return;
            }
            vm.stopRequested = true;
            vm.status = VmStatus.CRASHED;
        }
        log.warn("VM {}: {}", vm.id, reason);
        try {
            if (!(ask(vm, "quit") && waitGone(vm, qmpTimeout, true))) {
                forceGone(vm);
            }
        } catch (DriverException e) {
            log.error("VM {}: {}", vm.id, e.getMessage());
        }
        crashed.put(vm.id, reason);
        finish(vm);
        notice(vm.id, VmStatus.CRASHED, reason);
    }

    private void changed(QemuVm vm, VmStatus from, VmStatus to, String reason) {
        synchronized (vm) {
            if (vm.stopRequested || vm.status != from) {
                return;
            }
            vm.status = to;
        }
        notice(vm.id, to, reason);
    }

    private void onDisconnect(QemuVm vm, String reason) {
        synchronized (vm) {
            if (vm.stopRequested || vm.ended || vm.detached || closed || running.get(vm.id) != vm) {
                return;
            }
        }
        try {
            watcher.execute(() -> noticeExit(vm, reason));
        } catch (RejectedExecutionException e) {
            log.debug("VM {}: monitor closed while the driver closes", vm.id);
        }
    }

    private void noticeExit(QemuVm vm, String qmpReason) {
        boolean gone = waitGone(vm, EXIT_AFTER_EOF.multipliedBy(2), false);
        VmStatus end;
        String reason;
        synchronized (vm) {
            if (vm.stopRequested || vm.ended || vm.detached) {
                return;
            }
            if (!gone) {
                log.warn("VM {}: QMP connection lost ({}) but QEMU (pid {}) still runs; killing it so that none runs unwatched",
                        vm.id, qmpReason, vm.pid);
                vm.stopRequested = true;
            }
            vm.ended = gone;
        }
        if (!gone) {
            try {
                forceGone(vm);
            } catch (DriverException e) {
                log.error("VM {}: {}", vm.id, e.getMessage());
                return;
            }
        }
        String shutdown = vm.shutdownReason;
        if (shutdown != null && shutdown.startsWith("guest-")) {
            end = VmStatus.STOPPED;
            reason = "guest powered off";
        } else if ("host-qmp-quit".equals(shutdown)) {
            end = VmStatus.STOPPED;
            reason = "QEMU quit on a monitor command";
        } else if ("host-signal".equals(shutdown)) {
            end = VmStatus.CRASHED;
            reason = "QEMU was terminated by a signal";
        } else if (!gone) {
            end = VmStatus.CRASHED;
            reason = "QEMU monitor connection lost (" + qmpReason + "); process killed";
        } else {
            end = VmStatus.CRASHED;
            reason = "QEMU process (pid " + vm.pid + ") died unexpectedly";
        }
        if (end == VmStatus.CRASHED) {
            crashed.put(vm.id, reason);
        } else {
            crashed.remove(vm.id);
        }
        finish(vm);
        log.info("VM {}: {}", vm.id, reason);
        notice(vm.id, end, reason);
    }

    private void notice(String vmId, VmStatus status, String reason) {
        if (closed) {
            return;
        }
        try {
            observer.statusChanged(vmId, status, reason);
        } catch (RuntimeException e) {
            log.warn("VM {}: the observer failed on {}", vmId, status, e);
        }
    }

    // ---------------------------------------------------------------- files and processes

    /**
     * The socket of the VM's operator monitor ({@link Builder#operatorMonitor(boolean)}): present
     * while this driver runs or has reattached the VM and the VM's QEMU was started with one.
     * Connect with {@link QmpClient#connect(Path, Duration)} or any QMP client; one client at a
     * time.
     */
    public Optional<Path> operatorMonitor(String vmId) {
        Objects.requireNonNull(vmId, "vmId");
        ensureOpen();
        QemuVm vm = running.get(vmId);
        if (vm == null || !Files.exists(vm.files.operatorSocket(), LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        return Optional.of(vm.files.operatorSocket());
    }

    VmFiles files(String vmId) {
        return VmFiles.of(stateDirectory, vmId);
    }

    /** The pid in the VM's pidfile, if that process is alive and is this VM's QEMU. */
    private Optional<Long> liveProcess(VmFiles files) {
        return readPid(files.pidFile()).filter(pid -> HostProcess.stat(pid).filter(s -> !s.isZombie()).isPresent()
                && isOurs(pid, files));
    }

    /** Whether the process's command line is QEMU started for this VM under this state directory. */
    private static boolean isOurs(long pid, VmFiles files) {
        return isOurs(HostProcess.commandLine(pid), files);
    }

    private static boolean isOurs(List<String> args, VmFiles files) {
        String id = files.directory().getFileName().toString();
        boolean named = false;
        boolean socket = false;
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).equals("-name") && args.get(i + 1).startsWith("guest=" + id + ",")) {
                named = true;
            }
            if (args.get(i).equals("-pidfile") && args.get(i + 1).equals(files.pidFile().toString())) {
                socket = true;
            }
        }
        return named && socket && args.contains(QemuCommandLine.monitorChardev("qmp", files.qmpSocket()));
    }

    private static Optional<Long> readPid(Path pidFile) {
        try {
            String text = Files.readString(pidFile, StandardCharsets.US_ASCII).strip();
            return text.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(text));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | NumberFormatException e) {
            log.warn("unreadable pidfile {}: {}", pidFile, e.toString());
            return Optional.empty();
        }
    }

    private static void restrictSocket(Path socket) throws IOException {
        try {
            Files.setPosixFilePermissions(socket, VmFiles.OWNER_ONLY_FILE);
        } catch (NoSuchFileException e) {
            // QEMU makes its sockets before -daemonize lets the launcher exit and removes them when it exits.
            throw new DriverException("QEMU exited right after starting (its QMP socket " + socket + " is gone)");
        }
    }

    private static void removeRuntimeFiles(VmFiles files) {
        for (Path file : List.of(files.qmpSocket(), files.operatorSocket(), files.pidFile())) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                log.warn("cannot remove {}: {}", file, e.toString());
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
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
        for (QemuVm vm : running.values()) {
            vm.detached = true;
            if (vm.qmp != null) {
                vm.qmp.close();
            }
        }
        running.clear();
        watcher.shutdownNow();
        stateLock.close();
    }

    @Override
    public String toString() {
        return "QemuDriver[" + stateDirectory + ", " + accelerator + " -cpu " + cpuModel + ", " + machine
                + (runAs == null ? "" : ", runAs " + runAs) + (operatorMonitor ? ", operator monitor" : "") + "]";
    }

    /** The user QEMU switches to ({@link Builder#runAs(String)}), empty when it keeps the JVM's user. */
    public Optional<String> runAs() {
        return Optional.ofNullable(runAs);
    }

    // ---------------------------------------------------------------- accelerator choice

    /** Whether {@code /dev/kvm} (or the given device) opens for reading and writing. */
    static boolean kvmUsable(Path device) {
        try (FileChannel channel = FileChannel.open(device, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            return channel.isOpen();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    /**
     * Asks the probe (or its cache) what VMs run with, and logs the answer: INFO for the choice
     * and what was refused on the way, WARN for a fall-back to TCG although {@code /dev/kvm}
     * opens, or an explicit model whose guest code fails.
     */
    static HostProbe.Choice chooseAccelerator(Builder b, Path qemu, Path state) {
        Accelerator requested = b.accelerator == null ? Accelerator.AUTO : b.accelerator;
        boolean kvmOpens = b.kvmProbe == null ? kvmUsable(Path.of("/dev/kvm")) : b.kvmProbe.getAsBoolean();
        HostProbe.Choice choice;
        boolean cached = false;
        if (b.probeRunner != null) {
            choice = new HostProbe(b.probeRunner, kvmOpens).choose(requested, b.cpuModel);
        } else {
            Path work = probeDirectory(state);
            ProbeCache cache = ProbeCache.of(qemu, b.machine, requested, b.cpuModel, kvmOpens, work.resolve("choice.json"));
            Optional<HostProbe.Choice> known = cache.get();
            cached = known.isPresent();
            if (known.isPresent()) {
                choice = known.get();
            } else {
                long started = System.nanoTime();
                QemuProbeRunner runner = new QemuProbeRunner(qemu, b.machine, work, PROBE_TIMEOUT);
                choice = new HostProbe(runner, kvmOpens).choose(requested, b.cpuModel);
                log.debug("accelerator probe took {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
                cache.put(choice);
            }
        }
        String from = cached ? " [probed earlier on this host]" : "";
        if (!kvmOpens && choice.accelerator() == Accelerator.TCG) {
            log.info("/dev/kvm is not usable; QEMU will run guests with TCG (software emulation, much slower): {}{}",
                    choice.summary(), from);
        } else if (choice.warning() && choice.accelerator() == Accelerator.TCG) {
            log.warn("/dev/kvm opens but KVM runs no guest code on this host; QEMU will run guests with TCG"
                    + " (software emulation, much slower): {}{}", choice.summary(), from);
        } else if (choice.warning()) {
            log.warn("CPU model {} starts under KVM but cannot run guest code here; its guests will crash: {}{}",
                    choice.cpuModel(), choice.summary(), from);
        } else {
            log.info("QEMU driver: {}{}", choice.summary(), from);
        }
        return choice;
    }

    /** Where the probe keeps its payload and answer: a directory of the state directory that is no VM's. */
    private static Path probeDirectory(Path state) {
        Path dir = state.resolve(PROBE_DIRECTORY);
        try {
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR));
            }
            return dir;
        } catch (IOException e) {
            throw new DriverException("cannot create the accelerator probe's directory " + dir + ": " + e, e);
        }
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
            Path qemu = executable(qemuBinary, "qemu-system-x86_64", "QEMU", "qemu-system-x86");
            Path img = executable(qemuImgBinary, "qemu-img", "qemu-img", "qemu-utils");
            if (runAs != null) {
                checkRunAs(runAs);
            }
            boolean sandbox = probeSandbox(qemu);
            Path state = prepareStateDirectory(stateDirectory);
            // One driver per state directory: two would each take the other's VMs for orphans.
            OwnerLock lock = OwnerLock.acquire(state, state.resolve(STATE_LOCK_FILE), "QemuDriver", DriverException::new);
            try {
                HostProbe.Choice choice = chooseAccelerator(this, qemu, state);
                return new QemuDriver(this, state, lock, qemu, img, choice, sandbox);
            } catch (RuntimeException e) {
                lock.close();
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

        private static Path executable(Path given, String name, String what, String debianPackage) {
            Path path = given;
            if (path == null) {
                path = findOnPath(name).orElseThrow(() -> new DriverException(what + " binary '" + name
                        + "' was not found on PATH; install it (Debian/Ubuntu: apt-get install " + debianPackage
                        + ") or set its path in the builder"));
            }
            path = path.toAbsolutePath().normalize();
            QemuCommandLine.requireSafePath(what + " binary", path);
            if (!Files.isRegularFile(path)) {
                throw new DriverException(what + " binary " + path + " does not exist or is not a file"
                        + " (Debian/Ubuntu package: " + debianPackage + ")");
            }
            if (!Files.isExecutable(path)) {
                throw new DriverException(what + " binary " + path + " is not executable");
            }
            return path;
        }

        private static Optional<Path> findOnPath(String name) {
            String path = System.getenv("PATH");
            if (path == null) {
                return Optional.empty();
            }
            for (String dir : path.split(File.pathSeparator)) {
                if (dir.isEmpty()) {
                    continue;
                }
                Path candidate = Path.of(dir, name);
                if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                    return Optional.of(candidate);
                }
            }
            return Optional.empty();
        }

        private static void checkRunAs(String user) {
            try {
                java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(user);
            } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
                throw new DriverException("runAs user '" + user + "' does not exist on this host");
            } catch (IOException e) {
                throw new DriverException("cannot look up runAs user '" + user + "': " + e, e);
            }
            Object uid;
            try {
                uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid", LinkOption.NOFOLLOW_LINKS);
            } catch (IOException | UnsupportedOperationException e) {
                throw new DriverException("cannot tell which user this JVM runs as, needed for runAs: " + e, e);
            }
            if (!Integer.valueOf(0).equals(uid)) {
                throw new DriverException("runAs '" + user + "' needs the JVM to run as root (uid 0), so that QEMU"
                        + " can switch to that user; this JVM runs as uid " + uid);
            }
        }

        /** Runs {@code qemu -sandbox on -version}: QEMU rejects {@code -sandbox} when built without seccomp. */
        private static boolean probeSandbox(Path qemu) {
            if (runs(qemu, "-sandbox", "on", "-version")) {
                return true;
            }
            if (runs(qemu, "-version")) {
                log.info("{} does not support -sandbox (built without seccomp); VMs run without it", qemu);
                return false;
            }
            throw new DriverException("QEMU binary " + qemu + " does not run ('" + qemu + " -version' failed)");
        }

        private static boolean runs(Path binary, String... args) {
            List<String> command = new ArrayList<>();
            command.add(binary.toString());
            command.addAll(List.of(args));
            try {
                Process p = new ProcessBuilder(command)
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(ProcessBuilder.Redirect.DISCARD)
                        .start();
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return false;
                }
                return p.exitValue() == 0;
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DriverException("interrupted while checking " + binary, e);
            }
        }

        private static Path prepareStateDirectory(Path given) {
            Path dir = given.toAbsolutePath().normalize();
            QemuCommandLine.requireSafePath("stateDirectory", dir);
            try {
                if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(dir.getParent());
                    try {
                        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR));
                    } catch (java.nio.file.FileAlreadyExistsException raced) {
                        // made by someone else meanwhile; checked below
                    }
                }
                PosixFileAttributes attributes = Files.readAttributes(dir, PosixFileAttributes.class);
                if (!attributes.isDirectory()) {
                    throw new DriverException("state directory " + dir + " exists and is not a directory");
                }
                var perms = attributes.permissions();
                // Root passes access(2) checks whatever the mode says; the owner bits state intent.
                if (!perms.contains(PosixFilePermission.OWNER_WRITE) || !perms.contains(PosixFilePermission.OWNER_EXECUTE)
                        || !Files.isWritable(dir)) {
                    throw new DriverException("state directory " + dir + " is not writable (mode "
                            + PosixFilePermissions.toString(perms) + ", owner " + attributes.owner() + ")");
                }
                if (perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                    log.warn("state directory {} is accessible to other users (mode {}); VM directories inside are 0700",
                            dir, PosixFilePermissions.toString(perms));
                }
                return dir;
            } catch (IOException e) {
                throw new DriverException("cannot use state directory " + dir + ": " + e, e);
            }
        }
    }
}
