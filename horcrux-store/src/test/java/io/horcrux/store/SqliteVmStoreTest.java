package io.horcrux.store;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import io.horcrux.internal.VmJson;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.stream.Stream;
import static io.horcrux.store.SampleVms.T0;
import static io.horcrux.store.SampleVms.vm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmConflictException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Page;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmStatus;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SQLite specifics of the store on a database file: layout, SQL, pragmas, batches, cursors. */
class SqliteVmStoreTest {
    @TempDir
    Path dir;
    Path db;
    SqliteVmStore store;

    @BeforeEach
    void open() {
        db = dir.resolve("data/horcrux.db");
        store = SqliteVmStore.builder().file(db).leakDetectionThreshold(Duration.ofSeconds(2)).build();
    }

    @AfterEach
    void close() {
        store.close();
    }

    private Connection raw() throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + db);
    }

    @Test
    void aVmReadsBackExactlyAsWritten() {
        Vm running = new Vm(vm("a").spec(), VmStatus.RUNNING, 7, T0, T0.plusNanos(1), "started by test",
                new VmRuntime(4242, "/run/horcrux/a/qmp.sock"));
        store.insert(running);
        assertThat(store.find("a")).contains(running);
        assertThat(store.find("nope")).isEmpty();
    }

    @Test
    void aNewDatabaseHasTheLatestSchemaInWalMode() throws SQLException {
        try (Connection c = raw(); Statement s = c.createStatement()) {
            assertThat(Migrations.userVersion(c)).isEqualTo(Migrations.LATEST);
            try (ResultSet rs = s.executeQuery("PRAGMA journal_mode")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("wal");
            }
        }
    }

    @Test
    void readerConnectionsCarryTheConfiguredPragmas() throws SQLException {
        try (Connection c = store.readerConnection(); Statement s = c.createStatement()) {
            assertThat(pragma(s, "journal_mode")).isEqualTo("wal");
            assertThat(pragma(s, "synchronous")).isEqualTo("1"); // NORMAL
            assertThat(pragma(s, "busy_timeout")).isEqualTo("5000");
            assertThat(pragma(s, "foreign_keys")).isEqualTo("1");
        }
        try (SqliteVmStore full = SqliteVmStore.builder().file(dir.resolve("full.db"))
                .synchronous(SqliteVmStore.Synchronous.FULL).busyTimeout(Duration.ofMillis(1500)).build();
             Connection c = full.readerConnection(); Statement s = c.createStatement()) {
            assertThat(pragma(s, "synchronous")).isEqualTo("2"); // FULL
            assertThat(pragma(s, "busy_timeout")).isEqualTo("1500");
        }
    }

    private static String pragma(Statement s, String name) throws SQLException {
        try (ResultSet rs = s.executeQuery("PRAGMA " + name)) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test
    void aBatchWithTakenAndRepeatedIdsNamesThemAllAndStoresNothing() {
        store.insertAll(List.of(vm("taken-1"), vm("taken-2")));
        List<Vm> batch = List.of(vm("new-1"), vm("taken-2"), vm("new-2"), vm("new-1"), vm("taken-1"), vm("new-3"));

        assertThatThrownBy(() -> store.insertAll(batch))
                .isInstanceOfSatisfying(VmAlreadyExistsException.class,
                        e -> assertThat(e.vmIds()).containsExactly("taken-2", "new-1", "taken-1"));
        assertThat(store.count(VmQuery.all())).isEqualTo(2);

        // Only taken ids (the database finds them, not the in-batch check): still all named.
        assertThatThrownBy(() -> store.insertAll(List.of(vm("new-4"), vm("taken-1"), vm("taken-2"))))
                .isInstanceOfSatisfying(VmAlreadyExistsException.class,
                        e -> assertThat(e.vmIds()).containsExactly("taken-1", "taken-2"));
        assertThat(store.find("new-4")).isEmpty();
        assertThat(store.count(VmQuery.all())).isEqualTo(2);
    }

    @Test
    void aBatchIsStoredWholeWithItsLabels() throws SQLException {
        List<Vm> batch = IntStream.range(0, 1000).mapToObj(i -> vm(String.format("vm-%04d", i))).toList();
        store.insertAll(batch);
        assertThat(store.count(VmQuery.all())).isEqualTo(1000);
        assertThat(store.count(VmQuery.all().withLabel("team", "store"))).isEqualTo(1000);
        try (Connection c = raw(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM vm_labels")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(2000);
        }
    }

    @Test
    void updatesAreCompareAndSetOnTheVersion() {
        Vm v1 = vm("cas", Map.of("env", "dev"));
        store.insert(v1);
        Vm v2 = new Vm(v1.spec().toBuilder().label("env", "prod").build(), VmStatus.STARTING, 2, T0,
                T0.plusSeconds(1), "starting", null);
        store.update(v2, 1);
        assertThat(store.find("cas")).contains(v2);
        assertThat(store.list(VmQuery.all().withLabel("env", "prod")).items()).containsExactly(v2);
        assertThat(store.list(VmQuery.all().withLabel("env", "dev")).items()).isEmpty();

        assertThatThrownBy(() -> store.update(v2, 1)).isInstanceOf(VmConflictException.class);
        assertThatThrownBy(() -> store.update(vm("ghost"), 1)).isInstanceOf(VmNotFoundException.class);
        assertThatThrownBy(() -> store.delete("cas", 1)).isInstanceOf(VmConflictException.class);
        assertThatThrownBy(() -> store.delete("ghost", 1)).isInstanceOf(VmNotFoundException.class);
        assertThat(store.find("cas")).contains(v2);
    }

    @Test
    void deletingAVmDeletesItsLabels() throws SQLException {
        store.insert(vm("gone"));
        store.delete("gone", 1);
        assertThat(store.find("gone")).isEmpty();
        try (Connection c = raw(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM vm_labels")) {
            rs.next();
            assertThat(rs.getInt(1)).isZero();
        }
    }

    @Test
    void pagesFollowTheKeysetCursorWithFilters() {
        List<Vm> all = new ArrayList<>();
        for (int i = 0; i < 250; i++) {
            Vm v = vm(String.format("p-%03d", i), Map.of("parity", i % 2 == 0 ? "even" : "odd"));
            all.add(i % 3 == 0 ? new Vm(v.spec(), VmStatus.CRASHED, 1, T0, T0, "", null) : v);
        }
        store.insertAll(all);
        VmQuery query = VmQuery.all().withLabel("parity", "even").withStatus(VmStatus.STOPPED).limit(20);
        List<String> seen = new ArrayList<>();
        Page<Vm> page = store.list(query);
        while (true) {
            page.items().forEach(v -> seen.add(v.id()));
            if (page.nextCursor().isEmpty()) {
                break;
            }
            page = store.list(query.after(page.nextCursor().get()));
        }
        List<String> expected = all.stream().filter(query::matches).map(Vm::id).toList();
        assertThat(seen).isEqualTo(expected);
        assertThat(store.count(query)).isEqualTo(expected.size());

        String sql = VmRows.select(query.after("p-100"), 21).sql();
        assertThat(sql).contains("id > ?").contains("ORDER BY id LIMIT ?").doesNotContainIgnoringCase("offset");
    }

    @Test
    void manyQueryShapesKeepGivingTheRightAnswers() {
        List<Vm> all = new ArrayList<>();
        VmStatus[] statuses = VmStatus.values();
        for (int i = 0; i < 60; i++) {
            Map<String, String> labels = new java.util.TreeMap<>();
            for (int k = 0; k < 8; k++) {
                labels.put("k" + k, (i >> (k % 3)) % 2 == 0 ? "a" : "b");
            }
            Vm v = vm(String.format("q-%02d", i), labels);
            all.add(new Vm(v.spec(), statuses[i % statuses.length], 1, T0, T0, "", null));
        }
        store.insertAll(all);
        // More SQL shapes than a reader connection keeps prepared: evictions must not matter.
        for (int round = 0; round < 2; round++) {
            for (int labelCount = 0; labelCount < 8; labelCount++) {
                for (int statusCount = 0; statusCount <= 5; statusCount++) {
                    VmQuery query = VmQuery.all();
                    for (int k = 0; k < labelCount; k++) {
                        query = query.withLabel("k" + k, k % 2 == 0 ? "a" : "b");
                    }
                    if (statusCount > 0) {
                        query = query.withStatus(statuses[0], java.util.Arrays.copyOfRange(statuses, 1, statusCount));
                    }
                    VmQuery q = query;
                    List<String> expected = all.stream().filter(q::matches).map(Vm::id).toList();
                    assertThat(store.list(q.limit(100)).items()).extracting(Vm::id).isEqualTo(expected);
                    assertThat(store.count(q)).isEqualTo(expected.size());
                }
            }
        }
        assertThat(store.activeReaderConnections()).isZero();
    }

    @Test
    void labelFiltersUseTheLabelIndex() throws SQLException {
        store.insertAll(IntStream.range(0, 50).mapToObj(i -> vm("ix-" + i)).toList());
        VmRows.Select select = VmRows.select(VmQuery.all().withLabel("env", "test").withLabel("team", "store")
                .after("ix-1"), 10);
        List<String> plan = new ArrayList<>();
        try (Connection c = store.readerConnection();
             PreparedStatement ps = c.prepareStatement("EXPLAIN QUERY PLAN " + select.sql())) {
            select.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    plan.add(rs.getString("detail"));
                }
            }
        }
        assertThat(plan).filteredOn(line -> line.contains("vm_labels"))
                .isNotEmpty()
                .allSatisfy(line -> assertThat(line).contains("USING COVERING INDEX vm_labels_key_value (key=? AND value=?)"));
        assertThat(plan).noneSatisfy(line -> assertThat(line).startsWith("SCAN vm_labels"));
    }

    @Test
    void labelsAndIdsThatLookLikeSqlAreOnlyData() throws SQLException {
        String hostile = "x' OR '1'='1'; DROP TABLE vms; --";
        store.insert(vm("victim", Map.of("note", hostile)));
        store.insert(vm("bystander", Map.of("note", "plain")));
        assertThat(store.list(VmQuery.all().withLabel("note", hostile)).items()).extracting(Vm::id)
                .containsExactly("victim");
        assertThat(store.list(VmQuery.all().withLabel("note", "x' OR '1'='1")).items()).isEmpty();
        assertThat(store.find("victim").orElseThrow().spec().labels()).containsEntry("note", hostile);
        assertThat(store.find("' OR 1=1 --")).isEmpty();
        assertThat(store.count(VmQuery.all())).isEqualTo(2);
    }

    @Test
    void aVmWrittenAsJsonRightAfterItsRowWasReadGetsItsSpecAsStoredOrItsOwnText() throws Exception {
        store.insert(vm("kept"));
        store.insert(vm("other-form"));
        store.insert(vm("escaped", Map.of("note", "caf\u00e9 \"quoted\"")));
        // Another valid form of the same spec (fields reordered, spaces), as an older writer may have left it.
        VmSpec spec = store.find("other-form").orElseThrow().spec();
        String reordered = "{ \"name\": \"" + spec.name() + "\", \"id\": \"other-form\", \"memoryMiB\": " + spec.memoryMiB()
                + ", \"cpus\": " + spec.cpus() + ", \"architecture\": \"X86_64\", \"labels\": {\"env\": \"test\"} }";
        try (Connection c = raw(); var ps = c.prepareStatement("UPDATE vms SET spec_json = ? WHERE id = 'other-form'")) {
            ps.setString(1, reordered);
            assertThat(ps.executeUpdate()).isEqualTo(1);
        }

        List<String> written = new ArrayList<>();
        try (Stream<Vm> vms = store.stream(VmQuery.all())) {
            vms.forEach(vm -> {
                StringWriter out = new StringWriter();
                try (JsonGenerator gen = VmJson.FACTORY.createGenerator(out)) {
                    VmJson.writeVm(gen, vm);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                written.add(out.toString());
                try (JsonParser p = VmJson.FACTORY.createParser(out.toString())) {
                    p.nextToken();
                    assertThat(VmJson.readVm(p)).isEqualTo(vm);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
        assertThat(written).hasSize(3);
        // In id order. The stored form itself for the reordered row (it reads back the same, checked
        // above); the writer's own text (the same as stored) for the others.
        assertThat(written.get(0)).startsWith("{\"spec\":" + VmJson.specToJson(store.find("escaped").orElseThrow().spec()) + ",");
        assertThat(written.get(1)).startsWith("{\"spec\":" + VmJson.specToJson(store.find("kept").orElseThrow().spec()) + ",");
        assertThat(written.get(2)).startsWith("{\"spec\":" + reordered + ",");
    }

    @Test
    void aStreamGivesItsConnectionBackOnExhaustionCloseAndConsumerFailure() {
        store.insertAll(IntStream.range(0, 300).mapToObj(i -> vm(String.format("s-%03d", i))).toList());

        // Exhausted without close.
        Stream<Vm> exhausted = store.stream(VmQuery.all());
        assertThat(exhausted.count()).isEqualTo(300);
        assertThat(store.activeReaderConnections()).isZero();

        // Closed early.
        Stream<Vm> partial = store.stream(VmQuery.all());
        assertThat(partial.iterator().next().id()).isEqualTo("s-000");
        assertThat(store.activeReaderConnections()).isEqualTo(1);
        partial.close();
        assertThat(store.activeReaderConnections()).isZero();

        // The consumer throws, and nobody closes the stream.
        Stream<Vm> failing = store.stream(VmQuery.all());
        assertThatThrownBy(() -> failing.forEach(v -> {
            if (v.id().equals("s-150")) {
                throw new IllegalStateException("consumer failed");
            }
        })).hasMessage("consumer failed");
        assertThat(store.activeReaderConnections()).isZero();

        // Limit and cursor are honoured.
        try (Stream<Vm> page = store.stream(VmQuery.all().after("s-100").limit(5))) {
            assertThat(page.map(Vm::id)).containsExactly("s-101", "s-102", "s-103", "s-104", "s-105");
        }
        assertThat(store.activeReaderConnections()).isZero();
    }

    @Test
    void closingTheStoreClosesOpenStreams() {
        store.insertAll(IntStream.range(0, 10).mapToObj(i -> vm("c-" + i)).toList());
        Stream<Vm> open = store.stream(VmQuery.all());
        var it = open.iterator();
        it.next();
        store.close();
        store.close();
        assertThat(it.hasNext()).isFalse();
        assertThatThrownBy(() -> store.find("c-1")).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> store.insert(vm("late"))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void concurrentCompareAndSetWritersLoseNoUpdateWhileReadersStream() throws Exception {
        int vms = 4;
        int threads = 8;
        int incrementsPerThread = 40;
        store.insertAll(IntStream.range(0, vms).mapToObj(i -> vm("n-" + i)).toList());
        var pool = java.util.concurrent.Executors.newFixedThreadPool(threads + 2);
        try {
            List<java.util.concurrent.Future<?>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                work.add(pool.submit(() -> {
                    for (int i = 0; i < incrementsPerThread; i++) {
                        String id = "n-" + ((thread + i) % vms);
                        while (true) {
                            Vm current = store.find(id).orElseThrow();
                            Vm next = new Vm(current.spec(), current.status(), current.version() + 1,
                                    current.createdAt(), T0.plusSeconds(current.version()), "", null);
                            try {
                                store.update(next, current.version());
                                break;
                            } catch (VmConflictException lost) {
                                // another writer got there first: read again
                            }
                        }
                    }
                    return null;
                }));
            }
            java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
            for (int r = 0; r < 2; r++) {
                work.add(pool.submit(() -> {
                    while (writing.get()) {
                        try (Stream<Vm> all = store.stream(VmQuery.all())) {
                            assertThat(all.count()).isEqualTo(vms);
                        }
                    }
                    return null;
                }));
            }
            for (int t = 0; t < threads; t++) {
                work.get(t).get();
            }
            writing.set(false);
            for (var f : work) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        long versions = 0;
        for (int i = 0; i < vms; i++) {
            versions += store.find("n-" + i).orElseThrow().version() - 1;
        }
        assertThat(versions).isEqualTo((long) threads * incrementsPerThread);
        assertThat(store.activeReaderConnections()).isZero();
    }

    @Test
    void theBuilderRejectsRepeatedAndInvalidSettings() {
        assertThatThrownBy(() -> SqliteVmStore.builder().readerPoolSize(2).readerPoolSize(3))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("readerPoolSize");
        assertThatThrownBy(() -> SqliteVmStore.builder().file(db).inMemory("x"))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> SqliteVmStore.builder().readerPoolSize(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SqliteVmStore.builder().busyTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SqliteVmStore.builder().leakDetectionThreshold(Duration.ofMillis(500)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SqliteVmStore.builder().inMemory("../etc"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SqliteVmStore.builder().build()).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void inMemoryAnOpenStreamMakesWritesWaitAtMostTheBusyTimeout() {
        try (SqliteVmStore memory = SqliteVmStore.builder().inMemory("busy-" + UUID.randomUUID())
                .busyTimeout(Duration.ofMillis(100)).build()) {
            memory.insert(vm("first"));
            try (Stream<Vm> open = memory.stream(VmQuery.all())) {
                assertThat(open.iterator().next().id()).isEqualTo("first");
                assertThatThrownBy(() -> memory.insert(vm("blocked")))
                        .isInstanceOf(io.horcrux.StoreException.class)
                        .hasMessageContaining("in-memory database");
            }
            memory.insert(vm("after"));
            assertThat(memory.find("blocked")).isEmpty();
            assertThat(memory.find("after")).isPresent();
        }
    }

    @Test
    void onAFileAnOpenStreamDoesNotBlockWrites() {
        store.insert(vm("first"));
        try (Stream<Vm> open = store.stream(VmQuery.all())) {
            var it = open.iterator();
            assertThat(it.next().id()).isEqualTo("first");
            store.insert(vm("second"));
            assertThat(it.hasNext()).as("the stream reads the snapshot it started on").isFalse();
        }
        assertThat(store.find("second")).isPresent();
    }

    @Test
    void inMemoryStoresAreSharedByTheirConnectionsAndSeparateByName() {
        String name = "t-" + UUID.randomUUID();
        try (SqliteVmStore a = SqliteVmStore.builder().inMemory(name).build();
             SqliteVmStore b = SqliteVmStore.builder().inMemory(name + "-other").build()) {
            a.insert(vm("only-in-a"));
            assertThat(a.find("only-in-a")).isPresent(); // read through a pooled reader connection
            assertThat(b.find("only-in-a")).isEmpty();
            assertThatThrownBy(() -> SqliteVmStore.builder().inMemory(name).build())
                    .isInstanceOf(io.horcrux.StoreException.class).hasMessageContaining(name);
        }
        try (SqliteVmStore again = SqliteVmStore.builder().inMemory(name).build()) {
            assertThat(again.find("only-in-a")).isEmpty();
        }
    }
}
