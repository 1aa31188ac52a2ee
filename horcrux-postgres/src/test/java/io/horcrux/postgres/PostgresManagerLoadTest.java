package io.horcrux.postgres;

import io.horcrux.spi.VmStore;
import io.horcrux.testkit.ManagerLoadContract;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Many threads mixing every operation through the manager over the PostgreSQL store. */
class PostgresManagerLoadTest extends ManagerLoadContract {
    @RegisterExtension
    static final TestDatabase db = new TestDatabase();

    @Override
    protected VmStore newStore() {
        return db.freshStore("load").build();
    }
}
