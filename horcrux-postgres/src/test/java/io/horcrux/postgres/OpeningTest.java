package io.horcrux.postgres;

import static io.horcrux.postgres.SampleVms.vm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.StoreException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What opening checks before it changes anything: the server answers, the schema is Horcrux's
 * and not newer than this code, and no other store holds it. A refused database keeps every
 * table, row and version it had.
 */
class OpeningTest {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    private PostgresVmStore open(String schema) {
        return PostgresVmStore.builder().jdbcUrl(db.jdbcUrl()).user(db.user()).password(db.password()).schema(schema)
                .build();
    }

    /** Every table of the schema with its rows, as text: what "unchanged" compares. */
    private List<String> contents(String schema) throws SQLException {
        List<String> seen = new ArrayList<>();
        try (Connection c = db.connect()) {
            List<String> tables = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT c.relname FROM pg_class c JOIN pg_namespace n"
                    + " ON n.oid = c.relnamespace WHERE n.nspname = ? ORDER BY c.relname")) {
                ps.setString(1, schema);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        tables.add(rs.getString(1));
                    }
                }
            }
            seen.addAll(tables);
            for (String table : tables) {
                try (Statement s = c.createStatement()) {
                    if (!s.executeQuery("SELECT relkind FROM pg_class WHERE oid = '" + schema + "." + table
                            + "'::regclass AND relkind = 'r'").next()) {
                        continue; // an index
                    }
                    try (ResultSet rs = s.executeQuery("SELECT t::text FROM " + schema + "." + table
                            + " t ORDER BY 1")) {
                        while (rs.next()) {
                            seen.add(table + ": " + rs.getString(1));
                        }
                    }
                }
            }
        }
        return seen;
    }

    private void execute(String... sql) throws SQLException {
        try (Connection c = db.connect(); Statement s = c.createStatement()) {
            for (String statement : sql) {
                s.execute(statement);
            }
        }
    }

    @Test
    void tablesOfTheSameNamesThatAreNotOursAreRefusedUntouched() throws SQLException {
        execute("CREATE SCHEMA shop", "CREATE TABLE shop.vms (id int PRIMARY KEY, price numeric)",
                "INSERT INTO shop.vms VALUES (1, 9.99), (2, 19.99)");
        List<String> before = contents("shop");

        assertThatThrownBy(() -> open("shop"))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("schema shop")
                .hasMessageContaining("shop.vms")
                .hasMessageContaining("not a Horcrux inventory")
                .hasMessageContaining("Nothing was changed");
        assertThat(contents("shop")).isEqualTo(before).doesNotContain("horcrux_schema", "vm_labels");
    }

    @Test
    void aVersionTableThatIsNotOursIsRefusedUntouched() throws SQLException {
        execute("CREATE SCHEMA other", "CREATE TABLE other.horcrux_schema (name text)",
                "INSERT INTO other.horcrux_schema VALUES ('mine')");
        List<String> before = contents("other");

        assertThatThrownBy(() -> open("other"))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("other.horcrux_schema is not a Horcrux schema version table");
        assertThat(contents("other")).isEqualTo(before);
    }

    @Test
    void aNewerSchemaIsRefusedUntouched() throws SQLException {
        try (PostgresVmStore store = open("newer")) {
            store.insertAll(List.of(vm("one"), vm("two")));
        }
        execute("UPDATE newer.horcrux_schema SET version = " + (PgSchema.LATEST + 1));
        List<String> before = contents("newer");

        assertThatThrownBy(() -> open("newer"))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("schema newer")
                .hasMessageContaining("schema version " + (PgSchema.LATEST + 1) + " was written by a newer Horcrux")
                .hasMessageContaining("Nothing was changed");
        assertThat(contents("newer")).isEqualTo(before);
    }

    @Test
    void aSchemaOfOtherTablesGetsTheInventoryBesideThem() throws SQLException {
        execute("CREATE SCHEMA mixed", "CREATE TABLE mixed.notes (line text)", "INSERT INTO mixed.notes VALUES ('keep')");
        try (PostgresVmStore store = open("mixed")) {
            store.insert(vm("a"));
        }
        assertThat(contents("mixed")).contains("notes: (keep)", "vms", "vm_labels", "horcrux_schema");
    }

    @Test
    void reopeningKeepsTheDataAndTheSchemaVersion() throws SQLException {
        io.horcrux.model.Vm kept = vm("kept");
        try (PostgresVmStore store = open("reopen")) {
            store.insert(kept);
        }
        try (PostgresVmStore store = open("reopen")) {
            assertThat(store.find("kept")).contains(kept);
        }
        try (Connection c = db.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM reopen.horcrux_schema")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1)).isEqualTo(PgSchema.LATEST);
        }
    }

    @Test
    void aSecondStoreOnTheSameSchemaIsRefusedNamingTheHolder() {
        try (PostgresVmStore first = open("held")) {
            assertThatThrownBy(() -> open("held"))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("schema held")
                    .hasMessageContaining("in use by another PostgresVmStore")
                    .hasMessageContaining("pid " + ProcessHandle.current().pid());
            try (PostgresVmStore elsewhere = open("held_too")) {
                elsewhere.insert(vm("beside")); // another schema is another inventory
            }
            first.insert(vm("still-usable"));
        }
        try (PostgresVmStore again = open("held")) {
            assertThat(again.find("still-usable")).isPresent();
        }
    }

    @Test
    void anUnreachableServerIsAStoreExceptionNamingIt() {
        assertThatThrownBy(() -> PostgresVmStore.builder().jdbcUrl("jdbc:postgresql://127.0.0.1:1/nowhere")
                .user("nobody").connectionTimeout(Duration.ofSeconds(1)).build())
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("jdbc:postgresql://127.0.0.1:1/nowhere")
                .hasMessageContaining("cannot connect");
    }

    @Test
    void aWrongPasswordIsAStoreExceptionAndThePasswordIsNotInIt() {
        assertThatThrownBy(() -> PostgresVmStore.open(db.jdbcUrl() + "?password=in-the-url", db.user(), "wrong-secret"))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("password authentication failed")
                .hasMessageNotContaining("wrong-secret")
                .hasMessageNotContaining("in-the-url");
    }

    @Test
    void hostileSchemaNamesNeverReachTheDatabase() {
        for (String name : List.of("x\"; DROP TABLE vms; --", "Upper", "", "a b", "1starts_with_digit",
                "x".repeat(64))) {
            assertThatThrownBy(() -> PostgresVmStore.builder().schema(name))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("schema")
                    .hasMessageContaining("[a-z_][a-z0-9_]{0,62}");
        }
    }

    @Test
    void theBuilderRefusesWhatDoesNotFit() {
        assertThatThrownBy(() -> PostgresVmStore.builder().jdbcUrl("jdbc:sqlite:/tmp/x.db"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("jdbc:postgresql:");
        assertThatThrownBy(() -> PostgresVmStore.builder().build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("jdbcUrl");
        assertThatThrownBy(() -> PostgresVmStore.builder().poolSize(4).poolSize(5))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("poolSize was already set");
        assertThatThrownBy(() -> PostgresVmStore.builder().poolSize(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("poolSize must be between 1 and 200");
        assertThatThrownBy(() -> PostgresVmStore.builder().fetchSize(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fetchSize");
        assertThatThrownBy(() -> PostgresVmStore.builder().connectionTimeout(Duration.ofMillis(10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("connectionTimeout");
        assertThatThrownBy(() -> PostgresVmStore.builder().jdbcUrl(db.jdbcUrl()).dataSource(new org.postgresql.ds.PGSimpleDataSource()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("already set");
        assertThatThrownBy(() -> PostgresVmStore.builder().dataSource(new org.postgresql.ds.PGSimpleDataSource())
                .poolSize(3).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("poolSize applies to a jdbcUrl");
    }
}
