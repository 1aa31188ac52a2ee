package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.postgres.PostgresVmStore;
import io.horcrux.testkit.SimulatedDriver;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
 * Several hosts on one PostgreSQL inventory: the manager's {@code createAll} of 1000 VMs on a
 * store shared by hosts (every row checked against the host's fencing token by the database's
 * trigger, and an event row appended for the other hosts) against the raw batch insert of the
 * same rows in one transaction ({@link PostgresBenchmark#insertRaw}); and the time a takeover
 * needs after a host dies: from the dead host's last renewal to the moment a live host has taken
 * its {@value #DEAD_VMS} VMs over, against the bound its settings promise, lease TTL plus grace
 * plus one heartbeat.
 */
@State(Scope.Benchmark)
@Fork(1)
public class HostsBenchmark {
    static final int SIZE = 1000;
    static final int DEAD_VMS = 10;
    static final Duration TTL = Duration.ofSeconds(1);
    static final Duration RENEWAL = Duration.ofMillis(100);
    static final Duration GRACE = Duration.ofMillis(500);
    /** What the settings promise: the lease runs out, then the grace, then at most one heartbeat. */
    static final Duration TAKEOVER_BOUND = TTL.plus(GRACE).plus(RENEWAL);

    /** An empty shared inventory before each measured batch: a manager as host bench-a, and a raw connection. */
    @State(Scope.Thread)
    public static class Batch {
        PostgresServer server;
        VmManager manager;
        Connection raw;
        List<VmSpec> specs;
        List<Vm> rows;

        @Setup(Level.Trial)
        public void setUp() throws SQLException {
            server = PostgresServer.createDatabase();
            raw = server.connect();
            shared(server).close(); // the schema
            specs = Fixtures.specs(SIZE);
            rows = specs.stream().map(s -> new Vm(s, VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null)).toList();
        }

        @Setup(Level.Iteration)
        public void empty() throws SQLException {
            try (Statement s = raw.createStatement()) {
                s.execute("TRUNCATE horcrux.vm_snapshots, horcrux.vm_labels, horcrux.vms, horcrux.vm_events CASCADE");
            }
            manager = VmManager.builder().store(shared(server)).driver(SimulatedDriver.create()).host("bench-a").build();
        }

        @TearDown(Level.Iteration)
        public void closeManager() {
            manager.close();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws SQLException {
            raw.close();
            server.close();
        }
    }

    static PostgresVmStore shared(PostgresServer server) {
        return PostgresVmStore.builder().jdbcUrl(server.jdbcUrl).user(server.name).password(server.password)
                .sharedByHosts(true).build();
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 5)
    @Measurement(iterations = 15)
    public Object createAll1000Shared(Batch batch) {
        return batch.manager.createAll(batch.specs);
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 5)
    @Measurement(iterations = 15)
    public int rawInsert1000(Batch batch) throws SQLException {
        return PostgresBenchmark.insertRaw(batch.raw, batch.rows);
    }

    /**
     * A live host (a manager as {@code live}) and, before each measured takeover, a host that
     * takes its lease, writes its running VMs and dies: it never renews.
     */
    @State(Scope.Thread)
    public static class Takeover {
        PostgresServer server;
        VmManager live;
        final BlockingQueue<VmEvent> events = new LinkedBlockingQueue<>();
        final AtomicInteger round = new AtomicInteger();
        PostgresVmStore dead;

        @Setup(Level.Trial)
        public void setUp() {
            server = PostgresServer.createDatabase();
            live = VmManager.builder().store(shared(server)).driver(SimulatedDriver.create()).host("live")
                    .leaseTtl(TTL).leaseRenewal(RENEWAL).takeoverGrace(GRACE).build();
            live.subscribe(events::add);
        }

        @Setup(Level.Invocation)
        public void aHostDies() {
            events.clear();
            int n = round.incrementAndGet();
            dead = shared(server);
            dead.hostLeases().orElseThrow().acquire("dead-" + n, TTL);
            List<Vm> vms = new java.util.ArrayList<>();
            for (int i = 0; i < DEAD_VMS; i++) {
                vms.add(new Vm(VmSpec.builder().id("d" + n + "-" + i).memoryMiB(64).build(), VmStatus.RUNNING, 1,
                        Instant.EPOCH, Instant.EPOCH, "started", new VmRuntime(1, "m"), "dead-" + n));
            }
            dead.insertAll(vms);
        }

        @TearDown(Level.Invocation)
        public void bury() {
            dead.close();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            live.close();
            server.close();
        }
    }

    /** From the dead host's last renewal (its lease taken just before) to all its VMs taken over. */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 2)
    @Measurement(iterations = 10)
    public int takeoverAfterHostDies(Takeover t) throws InterruptedException {
        int taken = 0;
        while (taken < DEAD_VMS) {
            VmEvent e = t.events.poll(60, TimeUnit.SECONDS);
            if (e == null) {
                throw new IllegalStateException("no takeover within 60 s");
            }
            if (e.reason().startsWith("taken over")) {
                taken++;
            }
        }
        return taken;
    }
}
