package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Snapshot;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.testkit.TestGuest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
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
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * A snapshot with memory of a running 128 MiB test guest, through Horcrux and by hand, in one run
 * (issue 14's figure; goal: within 10 %):
 * <ul>
 *   <li>{@link #snapshotWithMemory}: {@code VmManager.snapshot(id, name)} of the booted guest on
 *       SQLite and the QEMU driver: the journal entry, the {@code snapshot-save} job waited for,
 *       the snapshot recorded, the journal cleared, the event;</li>
 *   <li>{@link #rawSnapshotSave}: the same guest booted by raw QEMU (q35, the same kernel,
 *       initramfs, command line, memory, accelerator and CPU model, a qcow2 disk of the same size
 *       on {@code virtio-blk}), and the {@code snapshot-save} job over a bare QMP socket, polled
 *       with {@code query-jobs} until concluded, then dismissed.</li>
 * </ul>
 * Both guests are booted once per trial; each call takes one snapshot, deleted after it (not
 * measured), so every call saves into the same image. Needs the test guest
 * ({@code scripts/build-test-guest}).
 *
 * <p>{@code java -cp benchmarks.jar io.horcrux.bench.SnapshotBenchmark [dir]} runs it and writes
 * {@code dir/snapshots.json} and {@code dir/snapshots-machine.json} (default {@code horcrux-bench/target}).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 20)
@Fork(1)
public class SnapshotBenchmark {
    static final int MEMORY_MIB = 128;
    static final long DISK_BYTES = 64L << 20;
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final String TAG = "bench";

    /** A manager over SQLite and the QEMU driver, with the guest booted to its readiness line. */
    @State(Scope.Benchmark)
    public static class Horcrux {
        Path directory;
        VmManager manager;
        final String id = "snap-guest";

        @Setup(Level.Trial)
        public void boot() {
            TestGuest guest = TestGuest.locate();
            directory = Fixtures.tempDirectory();
            manager = VmManager.builder().store(SqliteStores.open(directory, false))
                    .driver(QemuDriver.builder().stateDirectory(directory.resolve("vms")).build())
                    .stopVmsOnClose(true).build();
            manager.create(VmSpec.builder().id(id).memoryMiB(MEMORY_MIB).cpus(1).disk(DiskSpec.qcow2("root", DISK_BYTES))
                    .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline())).build());
            manager.start(id);
            manager.console(id).await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
        }

        @TearDown(Level.Invocation)
        public void deleteSnapshot() {
            manager.deleteSnapshot(id, TAG);
        }

        @TearDown(Level.Trial)
        public void close() {
            manager.close();
            Fixtures.deleteRecursively(directory);
        }
    }

    /** Raw QEMU booting the same guest with a qcow2 disk, its serial console to a file. */
    @State(Scope.Benchmark)
    public static class Raw {
        Path directory;
        Process qemu;
        RawQemu.Monitor monitor;
        private int jobs;

        @Setup(Level.Trial)
        public void boot() throws IOException, InterruptedException {
            TestGuest guest = TestGuest.locate();
            Hypervisor hypervisor = Hypervisor.probed();
            directory = Fixtures.tempDirectory();
            Path disk = directory.resolve("root.qcow2");
            Process img = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(),
                    Long.toString(DISK_BYTES)).inheritIO().start();
            if (img.waitFor() != 0) {
                throw new IllegalStateException("qemu-img create failed");
            }
            Path console = directory.resolve("console.log");
            qemu = new ProcessBuilder(List.of("qemu-system-x86_64", "-machine", "q35", "-accel", hypervisor.qemuAccel(),
                    "-cpu", hypervisor.cpuModel(), "-m", MEMORY_MIB + "M", "-smp", "1", "-nodefaults", "-no-user-config",
                    "-display", "none", "-kernel", guest.kernel().toString(), "-initrd", guest.initrd().toString(),
                    "-append", guest.cmdline(), "-serial", "file:" + console,
                    "-blockdev", "driver=file,node-name=file0,filename=" + disk,
                    "-blockdev", "driver=qcow2,node-name=disk0,file=file0",
                    "-device", "virtio-blk-pci,drive=disk0,id=disk0",
                    "-qmp", "unix:" + RawQemu.socket(directory, 0) + ",server=on,wait=off"))
                    .redirectErrorStream(true).redirectOutput(directory.resolve("qemu.log").toFile()).start();
            long deadline = System.nanoTime() + BOOT.toNanos();
            while (!Files.exists(console) || !Files.readString(console).contains(guest.readyLine())) {
                if (System.nanoTime() > deadline || !qemu.isAlive()) {
                    throw new IllegalStateException("raw QEMU's guest did not get ready: "
                            + Files.readString(directory.resolve("qemu.log")));
                }
                Thread.sleep(20);
            }
            monitor = new RawQemu.Monitor(RawQemu.socket(directory, 0));
        }

        /** Starts a job and polls {@code query-jobs} until it has concluded, then dismisses it. */
        String job(String command, String arguments) {
            String id = "raw-" + ++jobs;
            try {
                String reply = monitor.roundTrip("{\"execute\":\"" + command + "\",\"arguments\":{\"job-id\":\"" + id + "\","
                        + arguments + "}}");
                if (!reply.startsWith("{\"return\"")) {
                    throw new IllegalStateException(command + ": " + reply);
                }
                while (true) {
                    String jobs = monitor.roundTrip("{\"execute\":\"query-jobs\"}");
                    int at = jobs.indexOf("\"id\": \"" + id + "\"");
                    if (at < 0) {
                        throw new IllegalStateException(command + " job vanished: " + jobs);
                    }
                    int start = jobs.lastIndexOf('{', at);
                    int end = jobs.indexOf('}', at);
                    String job = jobs.substring(start, end < 0 ? jobs.length() : end);
                    if (job.contains("\"status\": \"concluded\"")) {
                        monitor.roundTrip("{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"" + id + "\"}}");
                        if (job.contains("\"error\"")) {
                            throw new IllegalStateException(command + " failed: " + job);
                        }
                        return id;
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @TearDown(Level.Invocation)
        public void deleteSnapshot() {
            job("snapshot-delete", "\"tag\":\"" + TAG + "\",\"devices\":[\"disk0\"]");
        }

        @TearDown(Level.Trial)
        public void close() throws Exception {
            monitor.close();
            qemu.destroyForcibly();
            qemu.waitFor(10, TimeUnit.SECONDS);
            Fixtures.deleteRecursively(directory);
        }
    }

    @Benchmark
    public Snapshot snapshotWithMemory(Horcrux horcrux) {
        return horcrux.manager.snapshot(horcrux.id, TAG);
    }

    @Benchmark
    public String rawSnapshotSave(Raw raw) {
        return raw.job("snapshot-save", "\"tag\":\"" + TAG + "\",\"vmstate\":\"disk0\",\"devices\":[\"disk0\"]");
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "horcrux-bench/target");
        Files.createDirectories(dir);
        Path out = dir.resolve("snapshots.json");
        new Runner(new OptionsBuilder().include(SnapshotBenchmark.class.getName().replace(".", "\\.") + "\\.")
                .resultFormat(ResultFormatType.JSON).result(out.toString()).build()).run();
        Suite.writeMachine(Suite.machineFile(out));
    }
}
