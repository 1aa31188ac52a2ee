package io.horcrux.postgres;

import static io.horcrux.postgres.SampleVms.vm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmConflictException;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmStatus;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the contract does not see: the server's side of streams, batches, versions and a DataSource. */
class PostgresVmStoreTest {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    private PostgresVmStore store;
    private String schema;

    @BeforeEach
    void open() {
        schema = db.newSchema("store");
        store = PostgresVmStore.builder().jdbcUrl(db.jdbcUrl()).user(db.user()).password(db.password()).schema(schema)
                .fetchSize(10).build();
    }

    @AfterEach
    void close() {
        store.close();
    }

    private static List<Vm> vms(int n) {
        return IntStream.range(0, n).mapToObj(i -> vm(String.format("vm-%04d", i))).toList();
    }

    /** Sessions of the test database inside a transaction now, seen from a session of its own. */
    private static int sessionsInATransaction() throws SQLException {
        try (Connection c = db.connect(); PreparedStatement ps = c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()"
                        + " AND state LIKE 'idle in transaction%'")) {
            ps.setString(1, db.user());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    /** The portals (cursors) open on the server in the session of the store's one open stream. */
    private List<String> serverCursorsOfTheOpenStream() throws SQLException {
        assertThat(store.openCursors()).hasSize(1);
        Connection c = store.openCursors().get(0).connection();
        List<String> statements = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT statement FROM pg_cursors WHERE statement NOT LIKE '%pg_cursors%'")) {
            while (rs.next()) {
                statements.add(rs.getString(1));
            }
        }
        return statements;
    }

    @Test
    void aStreamReadsThroughAServerSideCursorAndEndsItsTransactionWhenClosed() throws SQLException {
        store.insertAll(vms(100));
        try (Stream<Vm> stream = store.stream(VmQuery.all())) {
            Iterator<Vm> it = stream.iterator();
            assertThat(it.next().id()).isEqualTo("vm-0000");
            assertThat(serverCursorsOfTheOpenStream()).singleElement().asString().contains("FROM \"store_");
            assertThat(sessionsInATransaction()).isEqualTo(1);
        }
        assertThat(store.openCursors()).isEmpty();
        assertThat(store.activeConnections()).isZero();
        assertThat(sessionsInATransaction()).isZero();
    }

    @Test
    void aStreamGivesItsCursorBackWhenExhaustedOrWhenItsConsumerThrows() throws SQLException {
        store.insertAll(vms(35));
        Stream<Vm> exhausted = store.stream(VmQuery.all());
        assertThat(exhausted.map(Vm::id).toList()).hasSize(35).isSorted();
        assertThat(store.openCursors()).isEmpty();

        Stream<Vm> failing = store.stream(VmQuery.all().withLabel("env", "test"));
        assertThatThrownBy(() -> failing.forEach(vm -> {
            throw new IllegalStateException("consumer failed");
        })).hasMessage("consumer failed");
        assertThat(store.openCursors()).isEmpty();
        assertThat(store.activeConnections()).isZero();
        assertThat(sessionsInATransaction()).isZero();
    }

    @Test
    void closingTheStoreClosesItsOpenStreams() throws SQLException {
        store.insertAll(vms(30));
        Stream<Vm> open = store.stream(VmQuery.all());
        open.iterator().next();
        store.close();
        assertThat(store.openCursors()).isEmpty();
        assertThat(sessionsInATransaction()).isZero();
    }

    @Test
    void writesGoOnWhileAStreamIsOpen() {
        store.insertAll(vms(30));
        try (Stream<Vm> stream = store.stream(VmQuery.all())) {
            Iterator<Vm> it = stream.iterator();
            it.next();
            store.insert(vm("zz-new"));
            store.update(new Vm(vm("vm-0001").spec(), VmStatus.RUNNING, 2, SampleVms.T0, SampleVms.T0, "", null), 1);
            store.delete("vm-0002", 1);
            assertThat(store.count(VmQuery.all())).isEqualTo(30);
        }
    }

    @Test
    void aBatchWithOneTakenIdStoresNothingAndNamesIt() {
        store.insert(vm("vm-0003"));
        List<Vm> batch = vms(10);

        assertThatThrownBy(() -> store.insertAll(batch))
                .isInstanceOfSatisfying(VmAlreadyExistsException.class,
                        e -> assertThat(e.vmIds()).containsExactly("vm-0003"));
        assertThat(store.count(VmQuery.all())).isEqualTo(1);
        assertThat(store.count(VmQuery.all().withLabel("team", "store"))).isEqualTo(1);
        store.insertAll(batch.stream().filter(vm -> !vm.id().equals("vm-0003")).toList());
        assertThat(store.count(VmQuery.all())).isEqualTo(10);
    }

    @Test
    void concurrentUpdatesOfOneVersionHaveExactlyOneWinner() throws Exception {
        store.insert(vm("contended"));
        int writers = 8;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        CountDownLatch go = new CountDownLatch(1);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < writers; i++) {
                String reason = "writer " + i;
                results.add(pool.submit(() -> {
                    go.await();
                    try {
                        store.update(new Vm(vm("contended").spec(), VmStatus.RUNNING, 2, SampleVms.T0, SampleVms.T0,
                                reason, null), 1);
                        return true;
                    } catch (VmConflictException lost) {
                        return false;
                    }
                }));
            }
            go.countDown();
            int won = 0;
            for (Future<Boolean> result : results) {
                won += result.get() ? 1 : 0;
            }
            assertThat(won).isEqualTo(1);
            assertThat(store.find("contended").orElseThrow().version()).isEqualTo(2);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aSpecChangeRewritesTheLabels() {
        store.insert(vm("relabel"));
        Vm relabelled = new Vm(vm("relabel", java.util.Map.of("env", "prod")).spec(), VmStatus.STOPPED, 2,
                SampleVms.T0, SampleVms.T0, "", null);
        store.update(relabelled, 1);
        assertThat(store.list(VmQuery.all().withLabel("env", "prod")).items()).containsExactly(relabelled);
        assertThat(store.list(VmQuery.all().withLabel("team", "store")).items()).isEmpty();
    }

    @Test
    void anApplicationsDataSourceIsNotClosedAndItsPooledConnectionKeepsNoLock() throws SQLException {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(db.jdbcUrl());
        config.setUsername(db.user());
        config.setPassword(db.password());
        config.setMaximumPoolSize(3);
        String schema = db.newSchema("app_pool");
        try (HikariDataSource application = new HikariDataSource(config)) {
            try (PostgresVmStore mine = PostgresVmStore.builder().dataSource(application).schema(schema).build()) {
                mine.insert(vm("a"));
                try (Stream<Vm> s = mine.stream(VmQuery.all())) {
                    assertThat(s.count()).isEqualTo(1);
                }
                assertThat(application.getHikariPoolMXBean().getActiveConnections()).isEqualTo(1); // the lock's
            }
            assertThat(application.isClosed()).isFalse();
            assertThat(application.getHikariPoolMXBean().getActiveConnections()).isZero();
            // The lock's session went back to the pool alive: the lock must not have gone with it.
            try (PostgresVmStore again = PostgresVmStore.builder().dataSource(application).schema(schema).build()) {
                assertThat(again.find("a")).isPresent();
            }
            try (Connection c = application.getConnection()) {
                assertThat(c.getAutoCommit()).isTrue();
            }
        }
    }

    @Test
    void hostileTextIsStoredAsData() {
        String hostile = "'); DROP TABLE vms; -- \\ \" $$ %s ?";
        Vm vm = new Vm(io.horcrux.model.VmSpec.builder().id("hostile").name(hostile).memoryMiB(64)
                .label("app", hostile).build(), VmStatus.STOPPED, 1, SampleVms.T0, SampleVms.T0, hostile, null);
        store.insert(vm);
        assertThat(store.find("hostile")).contains(vm);
        assertThat(store.list(VmQuery.all().withLabel("app", hostile)).items()).containsExactly(vm);
        assertThat(store.existingIds(List.of(hostile, "hostile"))).containsExactly("hostile");
    }

    /** The plan of the store's own SQL for a query, with sequential scans priced out (tiny tables favour them). */
    private String plan(PgRows.Select select) throws SQLException {
        try (Connection c = db.connect()) {
            try (Statement s = c.createStatement()) {
                s.execute("SET enable_seqscan = off");
            }
            try (PreparedStatement ps = c.prepareStatement("EXPLAIN " + select.sql())) {
                select.bind(c, ps);
                StringBuilder plan = new StringBuilder();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        plan.append(rs.getString(1)).append('\n');
                    }
                }
                return plan.toString();
            }
        }
    }

    @Test
    void labelFiltersStatusFiltersAndKeysetPagesUseIndexes() throws SQLException {
        store.insertAll(vms(50));
        PgRows rows = new PgRows(PgSchema.quote(schema));

        assertThat(plan(rows.select(VmQuery.all().withLabel("env", "test"), 10))).contains("vm_labels_key_value");
        assertThat(plan(rows.select(VmQuery.all().withStatus(VmStatus.RUNNING), 10))).contains("vms_status");
        assertThat(plan(rows.select(VmQuery.all().after("vm-0010"), 10))).contains("vms_pkey");
    }
}
