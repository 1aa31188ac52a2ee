package io.horcrux.postgres;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.VmStoreContract;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The store contract on an application's {@code DataSource} (pgjdbc's own, unpooled: every
 * borrow is a new session, so a connection the store failed to give back would show as a
 * session left on the server).
 */
class DataSourceVmStoreContractTest extends VmStoreContract {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    private PGSimpleDataSource dataSource;
    private String schema;

    @Override
    protected VmStore newStore() {
        dataSource = new PGSimpleDataSource();
        dataSource.setUrl(db.jdbcUrl());
        dataSource.setUser(db.user());
        dataSource.setPassword(db.password());
        schema = db.newSchema("ds");
        return open();
    }

    private PostgresVmStore open() {
        return PostgresVmStore.builder().dataSource(dataSource).schema(schema).build();
    }

    @Override
    protected Optional<Supplier<VmStore>> secondStoreOnTheSameInventory() {
        return Optional.of(this::open);
    }
}
