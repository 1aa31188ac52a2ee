package io.horcrux.postgres;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.HostLeasesContract;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The host lease contract on a real PostgreSQL: stores shared by hosts on a fresh schema per test. */
class PostgresHostLeasesContractTest extends HostLeasesContract {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    private String schema;

    @BeforeEach
    void newInventory() {
        schema = db.newSchema("leases");
    }

    @Override
    protected VmStore openSharedStore() {
        return PostgresVmStore.builder().jdbcUrl(db.jdbcUrl()).user(db.user()).password(db.password()).schema(schema)
                .sharedByHosts(true).build();
    }
}
