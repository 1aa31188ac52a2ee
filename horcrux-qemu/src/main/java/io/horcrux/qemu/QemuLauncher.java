package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.horcrux.DriverException;
import io.horcrux.internal.FaultPoint;
import io.horcrux.internal.HostProcess;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmStatus;
import io.horcrux.model.VmSpec;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a VM's QEMU under the driver's watch: {@link #start} spawns a new one (daemonized) and
 * waits for its monitor; {@link #reattach} reconnects to one that a previous driver started. On
 * a failed start nothing is left: the process is gone (found by its arguments if its pidfile is)
 * and its runtime files removed, and the exception carries QEMU's first error lines and names
 * the accelerator and CPU model.
 */
final class QemuLauncher {
    private static final Logger log = LoggerFactory.getLogger(QemuLauncher.class);

    private final QemuCommandLine commandLine;
    private final StateDirectory state;
    private final ProcessTable table;
    private final Supervisor supervisor;
    private final StopSequence stops;
    private final ExecutorService pool;
    private final Duration qmpTimeout;
    private final boolean operatorMonitor;
    private final int consoleBytes;
    private final CloudInitSeed seeds;
    private final MonitorLoop loop;

    QemuLauncher(QemuCommandLine commandLine, StateDirectory state, ProcessTable table,
                 Supervisor supervisor, StopSequence stops, ExecutorService pool, Duration qmpTimeout,
                 boolean operatorMonitor, int consoleBytes, CloudInitSeed seeds, MonitorLoop loop) {
        this.seeds = seeds;
        this.loop = loop;
        this.commandLine = commandLine;
        this.state = state;
        this.table = table;
        this.supervisor = supervisor;
        this.stops = stops;
        this.pool = pool;
        this.qmpTimeout = qmpTimeout;
        this.operatorMonitor = operatorMonitor;
        this.consoleBytes = consoleBytes;
    }

    /**
     * Spawns QEMU, waits for its QMP greeting and returns the registered, running process.
     *
     * @throws DriverException if the VM is not provisioned, runs already, or QEMU fails to start
     */
    QemuProcess start(VmSpec spec) {
        String id = spec.id();
        if (table.isRunning(id)) {
            throw new DriverException("VM '" + id + "' is already running");
        }
        VmFiles files = state.files(id);
        if (!Files.isDirectory(files.directory(), LinkOption.NOFOLLOW_LINKS)) {
            throw new DriverException("VM '" + id + "' is not provisioned: " + files.directory() + " is missing");
        }
        for (DiskSpec disk : spec.disks()) {
            LinkOption[] own = disk.kind() == io.horcrux.model.DiskKind.CDROM ? new LinkOption[0]
                    : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
            if (!Files.isRegularFile(files.image(disk), own)) {
                throw new DriverException("VM '" + id + "': disk image " + files.image(disk) + " is missing");
            }
        }
        Optional<Long> leftover = QemuIdentity.liveProcess(files);
        if (leftover.isPresent()) {
            throw new DriverException("VM '" + id + "': a QEMU process of it (pid " + leftover.get()
                    + ") already runs without this driver watching it; attach or stop it first");
        }
        HostNetwork.check(spec);
        seeds.prepare(spec, files);
        files.prepareSocketDirectory();
        files.removeRuntimeFiles();
        List<String> args = operatorMonitor
                ? commandLine.arguments(spec, files.directory(), files.qmpSocket(), files.operatorSocket())
                : commandLine.arguments(spec, files.directory(), files.qmpSocket());
        long started = System.nanoTime();
        QemuProcess vm = null;
        try {
            long pid = spawn(args, files);
            HostProcess.Stat stat = HostProcess.stat(pid).filter(s -> !s.isZombie())
                    .orElseThrow(() -> new DriverException("QEMU (pid " + pid + ") exited right after starting"));
            vm = new QemuProcess(id, files, pid, stat.startTicks(), diskNames(spec), pool);
            restrictSocket(files.qmpSocket());
            restrictSocket(files.consoleSocket());
            if (operatorMonitor) {
                restrictSocket(files.operatorSocket());
            }
            vm.console(SerialConsole.connect(id, files.consoleSocket(), consoleLog(vm, ConsoleLog.fresh(files.serialLog(),
                    consoleBytes)), qmpTimeout, vm::isGone, loop));
            connect(vm);
            JsonNode runState = vm.qmp().execute("query-status");
            if (QemuDriver.INTERNAL_ERROR.equals(runState.path("status").asText())) {
                throw new DriverException(supervisor.hypervisorFailure());
            }
            vm.observed(runState);
            vm.forwards(UserNetForwards.read(vm.qmp(), spec));
            table.register(vm);
            VmFiles.emptyOwnerOnly(files.startLog()); // QEMU's launcher has exited and the daemon writes it no more
            log.info("VM {}: QEMU started (pid {}, {} -cpu {}, {}) in {} ms", id, pid, commandLine.accelerator(),
                    commandLine.cpuModel(), commandLine.machine(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            if (!vm.qmp().isOpen()) {
                // It died after answering but before it was registered: supervision takes it from here.
                supervisor.onDisconnect(vm, "QEMU closed the connection");
            }
            return vm;
        } catch (RuntimeException | IOException e) {
            throw startFailed(id, files, vm, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw startFailed(id, files, vm, e);
        }
    }

    /** Runs QEMU until it daemonizes; returns the pid it wrote. Its output goes to the start log. */
    private long spawn(List<String> args, VmFiles files) throws IOException, InterruptedException {
        VmFiles.emptyOwnerOnly(files.startLog());
        Process launcher = new ProcessBuilder(args)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(files.startLog().toFile())
                .start();
        FaultPoint.reach("qemu-forked:" + files.directory().getFileName());
        Duration launchTimeout = qmpTimeout.multipliedBy(3);
        if (!launcher.waitFor(launchTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
            launcher.destroyForcibly();
            throw new DriverException("QEMU did not finish starting within " + launchTimeout.toSeconds() + " s");
        }
        if (launcher.exitValue() != 0) {
            throw new DriverException("QEMU exited with status " + launcher.exitValue());
        }
        // QEMU writes it before -daemonize lets the launcher exit and removes it when it exits.
        return QemuIdentity.readPid(files.pidFile()).orElseThrow(() -> new DriverException(
                "QEMU exited right after starting (its pidfile " + files.pidFile() + " is gone)"));
    }

    private DriverException startFailed(String id, VmFiles files, QemuProcess vm, Exception cause) {
        if (vm != null) {
            table.drop(vm);
            vm.abandon();
            vm.disconnect();
        }
        // The process may be running even if we never read its pid, or may be on its way out
        // having removed its pidfile (a quit from another client); either way it is gone before
        // this returns, so a new start of the VM never meets it.
        try {
            List<Long> pids = vm != null ? List.of(vm.pid) : QemuIdentity.findByArguments(files);
            for (long p : pids) {
                HostProcess.stat(p).ifPresent(stat -> stops.forceGone(new QemuProcess(id, files, p, stat.startTicks(), pool)));
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
        files.removeRuntimeFiles();
        String message = cause instanceof DriverException ? cause.getMessage() : cause.toString();
        String said = QemuOutput.firstErrors(output, 3);
        return new DriverException("VM '" + id + "': start failed (" + commandLine.accelerator() + ", CPU model "
                + commandLine.cpuModel() + "): " + message + (said.isEmpty() ? "" : "; QEMU said: " + said), cause);
    }

    /**
     * Reconnects to the VM's QEMU if it still runs and is this VM's (see {@link QemuIdentity});
     * returns its status, or {@link VmStatus#STOPPED} after removing stale files when it is gone.
     * A process that is ours but whose monitor does not answer is killed, so none runs unwatched.
     */
    VmStatus reattach(Vm vm) {
        String id = vm.id();
        VmFiles files = state.files(id);
        Optional<Long> pid = QemuIdentity.liveProcess(files);
        Optional<HostProcess.Stat> stat = pid.flatMap(HostProcess::stat);
        if (stat.isEmpty()) {
            files.removeRuntimeFiles();
            log.info("VM {}: no QEMU process to reattach to", id);
            return VmStatus.STOPPED;
        }
        QemuProcess attached = new QemuProcess(id, files, pid.get(), stat.get().startTicks(), diskNames(vm.spec()),
                pool);
        try {
            if (Files.exists(files.consoleSocket(), LinkOption.NOFOLLOW_LINKS)) {
                attached.console(SerialConsole.connect(id, files.consoleSocket(), consoleLog(attached,
                        ConsoleLog.resumed(files.serialLog(), consoleBytes)), qmpTimeout, attached::isGone, loop));
            }
            connect(attached);
            attached.observed(attached.qmp().execute("query-status"));
        } catch (DriverException e) {
            log.warn("VM {}: QEMU (pid {}) runs but its monitor does not answer; killing it: {}", id, pid.get(),
                    e.getMessage());
            attached.requestStop();
            attached.disconnect();
            stops.forceGone(attached);
            files.removeRuntimeFiles();
            return VmStatus.STOPPED;
        }
        try {
            attached.forwards(UserNetForwards.read(attached.qmp(), vm.spec()));
        } catch (DriverException e) {
            List<io.horcrux.model.PortForward> stored = vm.runtime() == null ? List.of() : vm.runtime().forwards();
            log.warn("VM {}: cannot read its port forwards from QEMU, keeping the stored ones {}: {}", id, stored,
                    e.getMessage());
            attached.forwards(stored);
        }
        table.register(attached);
        if (!attached.qmp().isOpen()) {
            supervisor.onDisconnect(attached, "QEMU closed the connection");
        }
        log.info("VM {}: reattached to QEMU (pid {}), {}", id, pid.get(), attached.status());
        return attached.status();
    }

    private static List<String> diskNames(VmSpec spec) {
        return spec.disks().stream().map(DiskSpec::name).toList();
    }

    private void connect(QemuProcess vm) {
        QmpClient client = QmpClient.connect(vm.files.qmpSocket(), qmpTimeout, vm.id,
                event -> supervisor.onEvent(vm, event), QmpClient.MAX_LINE_BYTES, vm::isGone, loop);
        vm.connected(client);
        client.disconnected().thenAccept(reason -> supervisor.onDisconnect(vm, reason));
    }

    /** The VM's console log, its followers called in order off the loop's thread. */
    private static ConsoleLog consoleLog(QemuProcess vm, ConsoleLog consoleLog) {
        consoleLog.followersOn(vm.events);
        return consoleLog;
    }

    private static void restrictSocket(Path socket) throws IOException {
        try {
            Files.setPosixFilePermissions(socket, VmFiles.OWNER_ONLY_FILE);
        } catch (NoSuchFileException e) {
            // QEMU makes its sockets before -daemonize lets the launcher exit and removes them when it exits.
            throw new DriverException("QEMU exited right after starting (its QMP socket " + socket + " is gone)");
        }
    }
}
