package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.testkit.TestGuest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A real guest, through Horcrux and by hand, in one run: start to the test guest's readiness
 * line on its serial console (Horcrux: {@code start} then {@code console().await}; raw: QEMU
 * with {@code -serial stdio}, read until the line), and a graceful stop of the booted guest
 * (Horcrux: {@code stop} with a grace; raw: {@code system_powerdown} over a bare QMP socket to
 * QEMU's exit). Same kernel, initramfs, command line, machine type (q35), memory, accelerator
 * and CPU model ({@link Hypervisor#probed()}). Needs the test guest ({@code scripts/build-test-guest}).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 5)
@Fork(1)
public class GuestBenchmark {
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final int MEMORY_MIB = 256;

    /** A manager over SQLite and the QEMU driver, and the guest it boots. */
    @State(Scope.Benchmark)
    public static class Horcrux {
        TestGuest guest;
        Path directory;
        VmManager manager;
        Pattern ready;
        private int counter;

        @Setup(Level.Trial)
        public void open() {
            guest = TestGuest.locate();
            ready = Pattern.compile(Pattern.quote(guest.readyLine()));
            directory = Fixtures.tempDirectory();
            manager = VmManager.builder().store(SqliteStores.open(directory, false))
                    .driver(QemuDriver.builder().stateDirectory(directory.resolve("vms")).build())
                    .stopVmsOnClose(true).build();
        }

        @TearDown(Level.Trial)
        public void close() {
            manager.close();
            Fixtures.deleteRecursively(directory);
        }

        String create() {
            String id = "guest-" + ++counter;
            manager.create(VmSpec.builder().id(id).memoryMiB(MEMORY_MIB).cpus(1).disk(DiskSpec.qcow2("root", 64L << 20))
                    .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline())).build());
            return id;
        }

        void remove(String id) {
            manager.find(id).ifPresent(vm -> {
                if (vm.status().isActive()) {
                    manager.stop(id, Duration.ZERO);
                }
                manager.delete(id);
            });
        }
    }

    /** A created, stopped guest VM; removed after the call. */
    @State(Scope.Thread)
    public static class Created {
        String id;

        @Setup(Level.Invocation)
        public void create(Horcrux horcrux) {
            id = horcrux.create();
        }

        @TearDown(Level.Invocation)
        public void remove(Horcrux horcrux) {
            horcrux.remove(id);
        }
    }

    /** A guest VM booted to its readiness line; removed after the call. */
    @State(Scope.Thread)
    public static class Booted {
        String id;

        @Setup(Level.Invocation)
        public void boot(Horcrux horcrux) {
            id = horcrux.create();
            horcrux.manager.start(id);
            horcrux.manager.console(id).await(horcrux.ready, BOOT);
        }

        @TearDown(Level.Invocation)
        public void remove(Horcrux horcrux) {
            horcrux.remove(id);
        }
    }

    /** Raw QEMU booting the same guest, not daemonized, its serial console on stdout. */
    static final class RawGuest implements AutoCloseable {
        final Process process;
        final Path directory;

        RawGuest(TestGuest guest) throws IOException {
            directory = Fixtures.tempDirectory();
            Hypervisor hypervisor = Hypervisor.probed();
            process = new ProcessBuilder(List.of("qemu-system-x86_64", "-machine", "q35", "-accel", hypervisor.qemuAccel(),
                    "-cpu", hypervisor.cpuModel(), "-m", MEMORY_MIB + "M", "-smp", "1", "-nodefaults", "-no-user-config",
                    "-display", "none", "-kernel", guest.kernel().toString(), "-initrd", guest.initrd().toString(),
                    "-append", guest.cmdline(),
                    "-serial", "stdio", "-qmp", "unix:" + RawQemu.socket(directory, 0) + ",server=on,wait=off"))
                    .redirectErrorStream(true).start();
        }

        /** Reads the serial console until the line appears. */
        void awaitLine(String line) throws IOException {
            InputStream in = process.getInputStream();
            StringBuilder current = new StringBuilder();
            long deadline = System.nanoTime() + BOOT.toNanos();
            int b;
            while ((b = in.read()) >= 0) {
                if (b == '\n') {
                    if (current.toString().strip().equals(line)) {
                        return;
                    }
                    current.setLength(0);
                } else {
                    current.append((char) b);
                }
                if (System.nanoTime() > deadline) {
                    break;
                }
            }
            throw new IOException("raw QEMU's guest printed no '" + line + "'");
        }

        @Override
        public void close() {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Fixtures.deleteRecursively(directory);
        }
    }

    /** A raw QEMU made in the set-up, booted or not as the benchmark needs. */
    @State(Scope.Thread)
    public static class Raw {
        TestGuest guest;
        RawGuest qemu;

        @Setup(Level.Trial)
        public void locate() {
            guest = TestGuest.locate();
            Hypervisor.probed(); // never inside a measured call
        }

        @TearDown(Level.Invocation)
        public void remove() {
            if (qemu != null) {
                qemu.close();
                qemu = null;
            }
        }
    }

    /** Raw QEMU already booted to the readiness line. */
    @State(Scope.Thread)
    public static class RawBooted {
        TestGuest guest;
        RawGuest qemu;

        @Setup(Level.Invocation)
        public void boot() throws IOException {
            guest = TestGuest.locate();
            qemu = new RawGuest(guest);
            qemu.awaitLine(guest.readyLine());
        }

        @TearDown(Level.Invocation)
        public void remove() {
            qemu.close();
        }
    }

    @Benchmark
    public String startToReady(Horcrux horcrux, Created vm) {
        horcrux.manager.start(vm.id);
        return horcrux.manager.console(vm.id).await(horcrux.ready, BOOT);
    }

    @Benchmark
    public Process rawStartToReady(Raw raw) throws IOException {
        raw.qemu = new RawGuest(raw.guest);
        raw.qemu.awaitLine(raw.guest.readyLine());
        return raw.qemu.process;
    }

    @Benchmark
    public Object gracefulStop(Horcrux horcrux, Booted vm) {
        return horcrux.manager.stop(vm.id, Duration.ofSeconds(60));
    }

    @Benchmark
    public int rawPowerdownToExit(RawBooted raw) throws IOException, InterruptedException {
        try (RawQemu.Monitor monitor = new RawQemu.Monitor(RawQemu.socket(raw.qemu.directory, 0))) {
            monitor.send("{\"execute\":\"system_powerdown\"}");
            return raw.qemu.process.waitFor();
        }
    }
}
