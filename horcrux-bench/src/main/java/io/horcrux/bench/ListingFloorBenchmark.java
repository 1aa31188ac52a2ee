package io.horcrux.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.horcrux.VmManager;
import io.horcrux.model.Architecture;
import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.SimulatedDriver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Listing and point reads on SQLite through Horcrux against the floor: raw sqlite-jdbc reading
 * the same rows of the same file into the same {@link Vm} objects, in one run.
 *
 * <p>Horcrux's side is a manager over the SQLite store (cache on, as by default, and off):
 * {@code list} (one page of {@code size} VMs), {@code stream} (every VM through the stream,
 * collected) and {@code get} (by id, without a cache: a store point read).
 *
 * <p>The floor is what a careful hand-written JDBC user would do: one connection to the same
 * database file, statements prepared once, the same ten columns selected in id order, and
 * each row made into a {@code Vm} by hand. The spec column is JSON, so the floor must decode
 * it: it reads the bytes with Jackson's streaming parser (the fastest way Jackson offers; data
 * binding would be slower) field by field into the model's builders, which validate the spec
 * as every {@code VmSpec} is validated. It does not share Horcrux's decoder ({@code VmCodec}),
 * so the ratio includes Horcrux's decoding against a plain one. It keeps nothing between calls:
 * every call decodes every row (Horcrux may do better by reusing what it already decoded; that
 * is the point of a cache, and the {@code uncached} variants show the cost without it).
 *
 * <p>Run with {@code -prof gc}: {@code gc.alloc.rate.norm} divided by {@code size} is the
 * bytes allocated per VM listed.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ListingFloorBenchmark {
    private static final String COLUMNS =
            "id, name, status, version, created_at, updated_at, status_reason, runtime_pid, runtime_monitor, spec_json";
    private static final JsonFactory JSON = new JsonFactory();

    @Param({"1000"})
    public int size;

    private Path directory;
    private Path uncachedDirectory;
    private VmManager cached;
    private VmManager uncached;
    private Connection raw;
    private PreparedStatement rawList;
    private PreparedStatement rawFind;
    private VmQuery page;
    private String[] ids;

    @Setup(Level.Trial)
    public void setUp() throws SQLException {
        directory = Fixtures.tempDirectory();
        Path file = directory.resolve("inventory.db");
        cached = VmManager.builder().store(SqliteStores.open(directory, false)).driver(SimulatedDriver.create())
                .build();
        List<VmSpec> specs = Fixtures.specs(size);
        cached.createAll(specs);
        cached.withStream(VmQuery.all(), s -> s.count()); // what a running application would have read
        specs.forEach(s -> cached.get(s.id()));
        uncachedDirectory = Fixtures.tempDirectory();
        uncached = VmManager.builder().store(SqliteStores.open(uncachedDirectory, false))
                .driver(SimulatedDriver.create()).cacheMaximumSize(0).build();
        uncached.createAll(specs);
        raw = DriverManager.getConnection("jdbc:sqlite:" + file);
        rawList = raw.prepareStatement("SELECT " + COLUMNS + " FROM vms ORDER BY id LIMIT ?");
        rawFind = raw.prepareStatement("SELECT " + COLUMNS + " FROM vms WHERE id = ?");
        page = VmQuery.all().limit(size);
        ids = specs.stream().map(VmSpec::id).toArray(String[]::new);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws SQLException {
        raw.close();
        uncached.close();
        cached.close();
        Fixtures.deleteRecursively(directory);
        Fixtures.deleteRecursively(uncachedDirectory);
    }

    private String anyId() {
        return ids[ThreadLocalRandom.current().nextInt(ids.length)];
    }

    @Benchmark
    public Page<Vm> list() {
        return cached.list(page);
    }

    @Benchmark
    public Page<Vm> listUncached() {
        return uncached.list(page);
    }

    @Benchmark
    public List<Vm> stream() {
        return cached.withStream(VmQuery.all(), s -> s.toList());
    }

    @Benchmark
    public List<Vm> streamUncached() {
        return uncached.withStream(VmQuery.all(), s -> s.toList());
    }

    @Benchmark
    public Vm getUncached() {
        return uncached.get(anyId());
    }

    @Benchmark
    public List<Vm> rawList() throws SQLException {
        rawList.setInt(1, size);
        List<Vm> vms = new ArrayList<>(size);
        try (ResultSet rs = rawList.executeQuery()) {
            while (rs.next()) {
                vms.add(row(rs));
            }
        }
        return vms;
    }

    @Benchmark
    public Optional<Vm> rawGet() throws SQLException {
        rawFind.setString(1, anyId());
        try (ResultSet rs = rawFind.executeQuery()) {
            return rs.next() ? Optional.of(row(rs)) : Optional.empty();
        }
    }

    /** One row into a {@code Vm}, by hand. */
    static Vm row(ResultSet rs) throws SQLException {
        VmSpec spec = spec(rs.getBytes(10));
        long pid = rs.getLong(8);
        VmRuntime runtime = rs.wasNull() ? null : new VmRuntime(pid, rs.getString(9));
        return new Vm(spec, VmStatus.valueOf(rs.getString(3)), rs.getLong(4), instant(rs.getLong(5)),
                instant(rs.getLong(6)), rs.getString(7), runtime);
    }

    private static Instant instant(long nanos) {
        return Instant.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L));
    }

    /** The spec column by Jackson's streaming parser into the builders. */
    static VmSpec spec(byte[] json) {
        try (JsonParser p = JSON.createParser(json)) {
            p.nextToken();
            VmSpec.Builder b = VmSpec.builder();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "id" -> b.id(p.getText());
                    case "name" -> b.name(p.getText());
                    case "memoryMiB" -> b.memoryMiB(p.getLongValue());
                    case "cpus" -> b.cpus(p.getIntValue());
                    case "architecture" -> b.architecture(Architecture.valueOf(p.getText()));
                    case "disks" -> {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            b.disk(disk(p));
                        }
                    }
                    case "nics" -> {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            b.nic(nic(p));
                        }
                    }
                    case "labels" -> {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String key = p.currentName();
                            p.nextToken();
                            b.label(key, p.getText());
                        }
                    }
                    case "boot" -> b.boot(boot(p));
                    default -> p.skipChildren();
                }
            }
            return b.build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static DiskSpec disk(JsonParser p) throws IOException {
        String name = null;
        DiskFormat format = null;
        long size = 0;
        boolean readOnly = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "name" -> name = p.getText();
                case "format" -> format = DiskFormat.valueOf(p.getText());
                case "sizeBytes" -> size = p.getLongValue();
                case "readOnly" -> readOnly = p.getBooleanValue();
                default -> p.skipChildren();
            }
        }
        return new DiskSpec(name, format, size, readOnly);
    }

    private static NicSpec nic(JsonParser p) throws IOException {
        String name = null;
        String mac = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "name" -> name = p.getText();
                case "mac" -> mac = p.getText();
                default -> p.skipChildren();
            }
        }
        return new NicSpec(name, mac);
    }

    private static BootSpec boot(JsonParser p) throws IOException {
        List<BootDevice> order = new ArrayList<>(2);
        String kernel = null;
        String initrd = null;
        String cmdline = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "order" -> {
                    while (p.nextToken() == JsonToken.VALUE_STRING) {
                        order.add(BootDevice.valueOf(p.getText()));
                    }
                }
                case "kernel" -> kernel = p.getText();
                case "initrd" -> initrd = p.getText();
                case "cmdline" -> cmdline = p.getText();
                default -> p.skipChildren();
            }
        }
        return new BootSpec(order, kernel, initrd, cmdline);
    }
}
