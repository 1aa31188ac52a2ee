package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.store.SqliteVmStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.DomainInfo;
import org.libvirt.LibvirtException;
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
 * Horcrux and libvirt (through libvirt-java) side by side, in one JMH run: the same operations on
 * VMs of the same shape (q35, 64 MiB, one vCPU, {@code -cpu max}, one 64 MiB qcow2 virtio disk,
 * serial console to a file, no NIC, no guest OS), Horcrux over its SQLite store and QEMU driver,
 * libvirt over a local {@code libvirtd}.
 *
 * <p>Run by {@code horcrux-bench/peer/run-libvirt-peer.sh}, which installs and starts libvirtd and
 * defines the {@value #LIST_SIZE} domains the list and lookup benchmarks read. System properties
 * (each with a default):
 * <ul>
 *   <li>{@code peer.uri}: the libvirt URI, default {@code qemu:///system};</li>
 *   <li>{@code peer.dir}: where the libvirt domains' disks and serial logs live (libvirtd, running
 *       as root, must be able to open them), default {@code /var/lib/horcrux-peer};</li>
 *   <li>{@code peer.listPrefix}: the name prefix of the defined domains, default
 *       {@code peer-list-} (names {@code peer-list-0000} to {@code peer-list-0999}).</li>
 * </ul>
 *
 * <p>{@code libvirtDestroy} and {@code libvirtDestroySubreaper} measure the same call in two
 * set-ups of the daemon, so they need two runs: the first checks (outside the measurement) that
 * the domain's QEMU was orphaned to PID 1, the second that a subreaper (libvirtd under
 * {@code tini -s}) adopted it. Each fails its trial when the daemon is not set up as it claims.
 */
@State(Scope.Benchmark)
@Fork(1)
public class PeerBenchmark {
    /** How many VMs (and domains) the list and lookup benchmarks read. */
    static final int LIST_SIZE = 1000;
    static final int MEMORY_MIB = 64;
    static final long DISK_BYTES = 64L << 20;

    static final String URI = System.getProperty("peer.uri", "qemu:///system");
    static final Path PEER_DIR = Path.of(System.getProperty("peer.dir", "/var/lib/horcrux-peer"));
    static final String LIST_PREFIX = System.getProperty("peer.listPrefix", "peer-list-");
    static final boolean KVM = Files.isReadable(Path.of("/dev/kvm")) && Files.isWritable(Path.of("/dev/kvm"));

    private static final AtomicInteger COUNTER = new AtomicInteger();

    static String listName(int i) {
        return String.format(Locale.ROOT, "%s%04d", LIST_PREFIX, i);
    }

    static VmSpec spec(String id) {
        return VmSpec.builder().id(id).memoryMiB(MEMORY_MIB).cpus(1).disk(DiskSpec.qcow2("root", DISK_BYTES)).build();
    }

    /** A VM name no earlier invocation or fork used. */
    static String freshName(String kind) {
        return "peer-" + kind + "-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
    }

    // ------------------------------------------------------------------ Horcrux

    /** Horcrux as an application embeds it: SQLite inventory, QEMU driver, default cache. */
    static VmManager horcrux(Path directory) {
        return VmManager.builder()
                .store(SqliteVmStore.builder().file(directory.resolve("inventory.db")).build())
                .driver(QemuDriver.builder().stateDirectory(directory.resolve("vms")).accelerator(Accelerator.AUTO).build())
                .build();
    }

    /** An empty inventory for the lifecycle benchmarks. */
    @State(Scope.Benchmark)
    public static class HorcruxLifecycle {
        Path directory;
        VmManager manager;

        @Setup(Level.Trial)
        public void setUp() {
            directory = Fixtures.tempDirectory("horcrux-peer-");
            manager = horcrux(directory);
            populate();
        }

        /**
         * What a subclass puts in the new inventory; nothing here. A hook rather than a second
         * {@code @Setup}: JMH does not order the helpers of a class and its superclass.
         */
        void populate() {
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            manager.close();
            Fixtures.deleteRecursively(directory);
        }
    }

    /** {@value #LIST_SIZE} stopped VMs with their disks, created once per trial. */
    @State(Scope.Benchmark)
    public static class HorcruxInventory extends HorcruxLifecycle {
        @Override
        void populate() {
            List<VmSpec> specs = new ArrayList<>(LIST_SIZE);
            for (int i = 0; i < LIST_SIZE; i++) {
                specs.add(spec(listName(i)));
            }
            manager.createAll(specs);
        }
    }

    /** Per invocation: a VM created (disk provisioned), stopped; optionally started. */
    @State(Scope.Thread)
    public static class HorcruxVm {
        HorcruxLifecycle lifecycle;
        String id;

        void create(HorcruxLifecycle l) {
            lifecycle = l;
            id = freshName("hx");
            l.manager.create(spec(id));
        }

        @TearDown(Level.Invocation)
        public void remove() {
            lifecycle.manager.find(id).ifPresent(vm -> {
                if (vm.status().isActive()) {
                    lifecycle.manager.stop(id, Duration.ZERO);
                }
                lifecycle.manager.delete(id);
            });
        }
    }

    /** Per invocation: a stopped VM. */
    @State(Scope.Thread)
    public static class HorcruxStopped extends HorcruxVm {
        @Setup(Level.Invocation)
        public void setUp(HorcruxLifecycle l) {
            create(l);
        }
    }

    /** Per invocation: a running VM. */
    @State(Scope.Thread)
    public static class HorcruxRunning extends HorcruxVm {
        @Setup(Level.Invocation)
        public void setUp(HorcruxLifecycle l) {
            create(l);
            l.manager.start(id);
        }
    }

    /** Every VM with its state: the stream, the way to read a whole inventory. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @Warmup(iterations = 5, time = 1)
    @Measurement(iterations = 10, time = 1)
    public List<Vm> horcruxList(HorcruxInventory inventory) {
        return inventory.manager.withStream(VmQuery.all(), Stream::toList);
    }

    /** One VM by id with its state, through the manager's default cache. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @Warmup(iterations = 5, time = 1)
    @Measurement(iterations = 10, time = 1)
    public Vm horcruxLookup(HorcruxInventory inventory) {
        return inventory.manager.get(listName(ThreadLocalRandom.current().nextInt(LIST_SIZE)));
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3)
    @Measurement(iterations = 15)
    public Vm horcruxStart(HorcruxLifecycle lifecycle, HorcruxStopped vm) {
        return lifecycle.manager.start(vm.id);
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3)
    @Measurement(iterations = 15)
    public Vm horcruxForcedStop(HorcruxLifecycle lifecycle, HorcruxRunning vm) {
        return lifecycle.manager.stop(vm.id, Duration.ZERO);
    }

    // ------------------------------------------------------------------ libvirt

    /** One connection to libvirtd for the whole trial, as an application would hold it. */
    @State(Scope.Benchmark)
    public static class Libvirt {
        Connect connect;

        @Setup(Level.Trial)
        public void open() throws LibvirtException {
            connect = new Connect(URI, false);
        }

        @TearDown(Level.Trial)
        public void close() throws LibvirtException {
            connect.close();
        }
    }

    /** Checks that the script defined the domains the list and lookup benchmarks read. */
    @State(Scope.Benchmark)
    public static class LibvirtInventory {
        @Setup(Level.Trial)
        public void check(Libvirt libvirt) throws LibvirtException {
            int defined = libvirt.connect.numOfDefinedDomains();
            if (defined < LIST_SIZE) {
                throw new IllegalStateException("libvirt at " + URI + " has " + defined + " defined domains; the run needs "
                        + LIST_SIZE + " named " + listName(0) + " to " + listName(LIST_SIZE - 1)
                        + " (peer/run-libvirt-peer.sh defines them)");
            }
            libvirt.connect.domainLookupByName(listName(LIST_SIZE - 1)).free();
        }
    }

    /** Per invocation: a domain defined (disk created), stopped; optionally started. */
    @State(Scope.Thread)
    public static class LibvirtDomain {
        String name;
        Domain domain;
        Path disk;
        Path serial;

        void define(Libvirt libvirt) throws LibvirtException {
            name = freshName("lv");
            disk = PEER_DIR.resolve(name + ".qcow2");
            serial = PEER_DIR.resolve(name + ".serial.log");
            createDisk(disk);
            domain = libvirt.connect.domainDefineXML(domainXml(name, disk, serial));
        }

        /** The parent of the domain's QEMU process, which reaps it when it dies. */
        long qemuParent() {
            try {
                long pid = Long.parseLong(Files.readString(Path.of("/run/libvirt/qemu/" + name + ".pid")).trim());
                for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                    if (line.startsWith("PPid:")) {
                        return Long.parseLong(line.substring(5).trim());
                    }
                }
                throw new IllegalStateException("no PPid in /proc/" + pid + "/status");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @TearDown(Level.Invocation)
        public void remove() throws LibvirtException, IOException {
            if (domain != null) {
                if (domain.isActive() == 1) {
                    domain.destroy();
                }
                domain.undefine();
                domain.free();
                domain = null;
            }
            Files.deleteIfExists(disk);
            Files.deleteIfExists(serial);
        }
    }

    /** Per invocation: a stopped domain. */
    @State(Scope.Thread)
    public static class LibvirtStopped extends LibvirtDomain {
        @Setup(Level.Invocation)
        public void setUp(Libvirt libvirt) throws LibvirtException {
            define(libvirt);
        }
    }

    /** Per invocation: a running domain whose QEMU was orphaned to PID 1 (libvirtd as it is). */
    @State(Scope.Thread)
    public static class LibvirtRunning extends LibvirtDomain {
        @Setup(Level.Invocation)
        public void setUp(Libvirt libvirt) throws LibvirtException {
            define(libvirt);
            domain.create();
            long parent = qemuParent();
            if (parent != 1) {
                throw new IllegalStateException("QEMU of " + name + " has parent " + parent
                        + ", not PID 1: libvirtd runs under a subreaper; measure libvirtDestroySubreaper instead");
            }
        }
    }

    /** Per invocation: a running domain whose QEMU a subreaper (not PID 1) adopted. */
    @State(Scope.Thread)
    public static class LibvirtRunningSubreaped extends LibvirtDomain {
        @Setup(Level.Invocation)
        public void setUp(Libvirt libvirt) throws LibvirtException {
            define(libvirt);
            domain.create();
            long parent = qemuParent();
            if (parent == 1) {
                throw new IllegalStateException("QEMU of " + name + " was orphaned to PID 1: libvirtd needs a subreaper"
                        + " (run it as `tini -s -- libvirtd`) for libvirtDestroySubreaper");
            }
        }
    }

    /** A domain's name and state, what {@code virsh list --all} shows. */
    public record DomainState(String name, DomainInfo.DomainState state) {
    }

    /** Every domain with its state: {@code listAllDomains}, then {@code getInfo} for each. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @Warmup(iterations = 5, time = 1)
    @Measurement(iterations = 10, time = 1)
    public List<DomainState> libvirtList(Libvirt libvirt, LibvirtInventory inventory) throws LibvirtException {
        Domain[] domains = libvirt.connect.listAllDomains(0);
        List<DomainState> states = new ArrayList<>(domains.length);
        for (Domain d : domains) {
            try {
                states.add(new DomainState(d.getName(), d.getInfo().state));
            } finally {
                d.free();
            }
        }
        return states;
    }

    /** One domain by name with its info. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @Warmup(iterations = 5, time = 1)
    @Measurement(iterations = 10, time = 1)
    public DomainInfo libvirtLookup(Libvirt libvirt, LibvirtInventory inventory) throws LibvirtException {
        Domain d = libvirt.connect.domainLookupByName(listName(ThreadLocalRandom.current().nextInt(LIST_SIZE)));
        try {
            return d.getInfo();
        } finally {
            d.free();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3)
    @Measurement(iterations = 15)
    public int libvirtStart(LibvirtStopped vm) throws LibvirtException {
        return vm.domain.create();
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3)
    @Measurement(iterations = 15)
    public void libvirtDestroy(LibvirtRunning vm) throws LibvirtException {
        vm.domain.destroy();
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3)
    @Measurement(iterations = 15)
    public void libvirtDestroySubreaper(LibvirtRunningSubreaped vm) throws LibvirtException {
        vm.domain.destroy();
    }

    // ------------------------------------------------------------------ shared

    /**
     * The libvirt domain of the same shape as {@link #spec}: what QemuDriver puts on QEMU's
     * command line (q35, {@code -cpu max}, ACPI, a virtio-blk qcow2 disk, serial to a file,
     * {@code -nodefaults}), without the devices libvirt would add by default (USB controller,
     * memory balloon). libvirt still adds two PCIe root ports of its own. The template,
     * {@code peer-domain.xml}, is the one {@code run-libvirt-peer.sh} fills for the listed domains.
     */
    static String domainXml(String name, Path disk, Path serial) {
        return DOMAIN_TEMPLATE.replace("@type@", KVM ? "kvm" : "qemu")
                .replace("@name@", name)
                .replace("@memoryMiB@", Integer.toString(MEMORY_MIB))
                .replace("@cpuMode@", KVM ? "host-passthrough" : "maximum")
                .replace("@disk@", disk.toString())
                .replace("@serial@", serial.toString());
    }

    private static final String DOMAIN_TEMPLATE = readTemplate("peer-domain.xml");

    private static String readTemplate(String resource) {
        try (var in = PeerBenchmark.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is missing from the classpath; build with -Plibvirt-peer");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void createDisk(Path disk) {
        try {
            Files.createDirectories(disk.getParent());
            Process p = new ProcessBuilder(List.of("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(),
                    Long.toString(DISK_BYTES))).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException("qemu-img create " + disk + " failed: " + output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

}
