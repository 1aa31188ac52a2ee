package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.postgres.PostgresVmStore;
import io.horcrux.spi.VmCodec;
import io.horcrux.testkit.SimulatedDriver;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
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
 * The PostgreSQL store against raw pgjdbc on the same server, the same rows and the same
 * objects: a page of 1000 VMs and a point read by id, each from the store
 * ({@link PostgresVmStore}: a pool borrow, its SQL, its mapping) and from one plain
 * connection with its statements prepared once, reading the same columns into the same
 * {@link Vm}s through {@link VmCodec}; and the manager's {@code createAll} of 1000 VMs (one
 * transaction) against a raw batch insert of the same rows in one transaction. The server is
 * the tests' ({@link PostgresServer}); each trial has a database of its own.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PostgresBenchmark {
    static final int SIZE = 1000;
    private static final String COLUMNS =
            "id, name, status, version, created_at, updated_at, status_reason, runtime_pid, runtime_monitor, spec_json, owner";

    private PostgresServer server;
    private PostgresVmStore store;
    private Connection raw;
    private PreparedStatement rawFind;
    private PreparedStatement rawList;
    private String[] ids;

    @Setup(Level.Trial)
    public void setUp() throws SQLException {
        server = PostgresServer.createDatabase();
        store = PostgresVmStore.open(server.jdbcUrl, server.name, server.password);
        store.insertAll(Fixtures.specs(SIZE).stream()
                .map(s -> new Vm(s, VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null)).toList());
        ids = Fixtures.specs(SIZE).stream().map(VmSpec::id).toArray(String[]::new);
        raw = server.connect();
        rawFind = raw.prepareStatement("SELECT " + COLUMNS + " FROM horcrux.vms WHERE id = ?");
        rawList = raw.prepareStatement("SELECT " + COLUMNS + " FROM horcrux.vms ORDER BY id LIMIT ?");
    }

    @TearDown(Level.Trial)
    public void tearDown() throws SQLException {
        raw.close();
        store.close();
        server.close();
    }

    private String anyId() {
        return ids[ThreadLocalRandom.current().nextInt(ids.length)];
    }

    static Vm read(ResultSet rs) throws SQLException {
        VmSpec spec = VmCodec.decodeSpec(rs.getString(10).getBytes(StandardCharsets.UTF_8));
        long pid = rs.getLong(8);
        VmRuntime runtime = rs.wasNull() ? null : new VmRuntime(pid, rs.getString(9));
        return new Vm(spec, VmStatus.valueOf(rs.getString(3)), rs.getLong(4), instant(rs.getLong(5)),
                instant(rs.getLong(6)), rs.getString(7), runtime, rs.getString(11));
    }

    private static Instant instant(long nanos) {
        return Instant.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L));
    }

    @Benchmark
    public Page<Vm> storeList1000() {
        return store.list(VmQuery.all().limit(SIZE));
    }

    @Benchmark
    public List<Vm> rawList1000() throws SQLException {
        rawList.setInt(1, SIZE);
        List<Vm> vms = new ArrayList<>(SIZE);
        try (ResultSet rs = rawList.executeQuery()) {
            while (rs.next()) {
                vms.add(read(rs));
            }
        }
        return vms;
    }

    @Benchmark
    public Optional<Vm> storePointRead() {
        return store.find(anyId());
    }

    @Benchmark
    public Optional<Vm> rawPointRead() throws SQLException {
        rawFind.setString(1, anyId());
        try (ResultSet rs = rawFind.executeQuery()) {
            return rs.next() ? Optional.of(read(rs)) : Optional.empty();
        }
    }

    /** An empty inventory before each measured batch: a manager on a fresh store, and a raw connection. */
    @State(Scope.Thread)
    public static class Batch {
        private static final String[] TABLES = {"horcrux.vm_snapshots", "horcrux.vm_labels", "horcrux.vms"};
        PostgresServer server;
        VmManager manager;
        Connection raw;
        List<VmSpec> specs;
        List<Vm> rows;

        @Setup(Level.Trial)
        public void setUp() throws SQLException {
            server = PostgresServer.createDatabase();
            raw = server.connect();
            PostgresVmStore.open(server.jdbcUrl, server.name, server.password).close(); // the schema
            specs = Fixtures.specs(SIZE);
            rows = specs.stream().map(s -> new Vm(s, VmStatus.STOPPED, 1, Instant.EPOCH, Instant.EPOCH, "", null)).toList();
        }

        @Setup(Level.Iteration)
        public void empty() throws SQLException {
            try (Statement s = raw.createStatement()) {
                s.execute("TRUNCATE " + String.join(", ", TABLES) + " CASCADE");
            }
            manager = VmManager.builder()
                    .store(PostgresVmStore.open(server.jdbcUrl, server.name, server.password))
                    .driver(SimulatedDriver.create())
                    .build();
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

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 5)
    @Measurement(iterations = 15)
    public Object createAll1000(Batch batch) {
        return batch.manager.createAll(batch.specs);
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 5)
    @Measurement(iterations = 15)
    public int rawInsert1000(Batch batch) throws SQLException {
        return insertRaw(batch.raw, batch.rows);
    }

    /** The rows, with their labels, in one transaction of plain batched inserts: the floor of a createAll. */
    static int insertRaw(Connection c, List<Vm> rows) throws SQLException {
        c.setAutoCommit(false);
        try (PreparedStatement vms = c.prepareStatement("INSERT INTO horcrux.vms (" + COLUMNS
                + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
             PreparedStatement labels = c.prepareStatement(
                     "INSERT INTO horcrux.vm_labels (vm_id, key, value) VALUES (?, ?, ?)")) {
            for (Vm vm : rows) {
                vms.setString(1, vm.id());
                vms.setString(2, vm.spec().name());
                vms.setString(3, vm.status().name());
                vms.setLong(4, vm.version());
                vms.setLong(5, 0);
                vms.setLong(6, 0);
                vms.setString(7, vm.statusReason());
                vms.setNull(8, java.sql.Types.BIGINT);
                vms.setNull(9, java.sql.Types.VARCHAR);
                vms.setString(10, new String(VmCodec.encodeSpec(vm.spec()), StandardCharsets.UTF_8));
                vms.setString(11, vm.owner());
                vms.addBatch();
                for (var label : vm.spec().labels().entrySet()) {
                    labels.setString(1, vm.id());
                    labels.setString(2, label.getKey());
                    labels.setString(3, label.getValue());
                    labels.addBatch();
                }
            }
            int n = vms.executeBatch().length;
            labels.executeBatch();
            c.commit();
            return n;
        } finally {
            c.setAutoCommit(true);
        }
    }
}
