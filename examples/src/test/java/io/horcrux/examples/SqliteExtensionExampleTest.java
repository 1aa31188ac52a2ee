package io.horcrux.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmManager;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.store.SqliteVmStore;
import io.horcrux.testkit.HorcruxExtension;
import io.horcrux.testkit.SimulatedDriver;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The extension over any store and driver: here a SQLite file per test and the simulated driver. */
class SqliteExtensionExampleTest {
    @TempDir
    static Path files;
    private static final AtomicInteger DATABASES = new AtomicInteger();

    @RegisterExtension
    static HorcruxExtension horcrux = HorcruxExtension.using(
            () -> SqliteVmStore.open(files.resolve("inventory-" + DATABASES.incrementAndGet() + ".db")),
            SimulatedDriver::create);

    @Test
    void eachTestHasItsOwnDatabase(VmManager vms) {
        assertThat(vms.count(VmQuery.all())).isZero();
        vms.create(VmSpec.builder().id("db-1").build());
        assertThat(vms.get("db-1").version()).isEqualTo(1);
    }

    @Test
    void andTheNextTestAnother(VmManager vms) {
        assertThat(vms.count(VmQuery.all())).isZero();
        vms.create(VmSpec.builder().id("db-1").build());
    }
}
