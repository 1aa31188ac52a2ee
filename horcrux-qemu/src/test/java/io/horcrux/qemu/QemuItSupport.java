package io.horcrux.qemu;

import io.horcrux.internal.HostProcess;
import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Shared set-up of the real-QEMU tests: TCG forced, microvm (idle guests cost no CPU), one root per run. */
final class QemuItSupport {
    /** Every state directory of the real-process tests lives under here; the leak check scans for it. */
    static final Path ROOT = Path.of("target", "qemu-it").toAbsolutePath();

    static final java.nio.file.attribute.FileAttribute<?> OWNER_ONLY =
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR);

    private QemuItSupport() {
    }

    static Path newStateDirectory(String name) throws IOException {
        Files.createDirectories(ROOT);
        // Short names keep QMP sockets inside VM directories; the deep-directory test covers the other case.
        for (int i = 0; ; i++) {
            Path dir = ROOT.resolve(name + i);
            if (!Files.exists(dir)) {
                return Files.createDirectory(dir, OWNER_ONLY);
            }
        }
    }

    /** The {@code qemu-system-x86_64} on {@code PATH}, as the driver finds it. */
    static Path qemuBinary() {
        for (String dir : System.getenv("PATH").split(java.io.File.pathSeparator)) {
            Path candidate = Path.of(dir, "qemu-system-x86_64");
            if (Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath().normalize();
            }
        }
        throw new AssertionError("qemu-system-x86_64 is not on PATH; run scripts/setup-debian");
    }

    static QemuDriver.Builder driverBuilder(Path state) {
        return QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).machine(MachineType.MICROVM)
                .qmpTimeout(Duration.ofSeconds(30));
    }

    static QemuDriver driver(Path state) {
        return driverBuilder(state).build();
    }

    static VmSpec spec(String id) {
        return VmSpec.builder().id(id).memoryMiB(64).cpus(1)
                .disk(DiskSpec.qcow2("root", 16L << 20))
                .nic(NicSpec.user("eth0"))
                .build();
    }

    /** Pids of live (not zombie) QEMU processes whose command line mentions {@code under}. */
    static List<Long> qemuProcessesUnder(Path under) {
        return HostProcess.find(args -> args.get(0).contains("qemu-system")
                && args.stream().anyMatch(a -> a.contains(under.toString())));
    }

    /** Fails if any QEMU started for {@code under} still runs; kills them so the next run starts clean. */
    static void assertNoQemuLeftUnder(Path under) {
        List<Long> left = qemuProcessesUnder(under);
        left.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        assertThat(left).as("QEMU processes left running under " + under).isEmpty();
    }

    static long pidOf(QemuDriver driver, String vmId) throws IOException {
        return Long.parseLong(Files.readString(driver.files(vmId).pidFile(), StandardCharsets.US_ASCII).strip());
    }

    /** Kills the VM's QEMU as {@code kill -9} would, behind the driver's back. */
    static void kill(QemuDriver driver, String vmId, boolean force) throws IOException {
        ProcessHandle handle = ProcessHandle.of(pidOf(driver, vmId)).orElseThrow();
        if (force) {
            handle.destroyForcibly();
        } else {
            handle.destroy();
        }
    }

    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for " + what);
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }

    static boolean isGone(long pid) {
        return HostProcess.stat(pid).map(HostProcess.Stat::isZombie).orElse(true);
    }
}
