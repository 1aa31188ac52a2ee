package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.testkit.ChildJvm;
import io.horcrux.StoreException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One store per database across processes: the second opener is refused naming the holder. */
class ProcessLockIT {
    @TempDir
    Path dir;

    @Test
    void anotherProcessHoldingTheDatabaseIsNamedAndItsDeathReleasesIt() throws Exception {
        Path db = dir.resolve("locked.db");
        try (ChildJvm holder = ChildJvm.start(dir, StoreChild.class, "128m", "hold", db.toString())) {
            assertThat(holder.readLine()).as("holder stderr: %s", holder.stderr()).isEqualTo("READY");

            assertThatThrownBy(() -> SqliteVmStore.open(db))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining(db.toString())
                    .hasMessageContaining("another process")
                    .hasMessageContaining("pid " + holder.pid());

            holder.kill(); // SIGKILL: no close, no cleanup; the OS drops the lock
        }
        try (SqliteVmStore store = SqliteVmStore.open(db)) {
            assertThat(store.find("held")).isPresent();
        }
    }

    @Test
    void anotherProcessCannotOpenWhatThisOneHolds() throws Exception {
        Path db = dir.resolve("mine.db");
        try (SqliteVmStore store = SqliteVmStore.open(db)) {
            store.insert(SampleVms.vm("mine"));
            try (ChildJvm other = ChildJvm.start(dir, StoreChild.class, "128m", "try-open", db.toString())) {
                String line = other.readLine();
                assertThat(line).as("child stderr: %s", other.stderr())
                        .startsWith("REFUSED ")
                        .contains("pid " + ProcessHandle.current().pid());
                assertThat(other.waitFor()).isZero();
            }
        }
        try (ChildJvm other = ChildJvm.start(dir, StoreChild.class, "128m", "try-open", db.toString())) {
            assertThat(other.readLine()).isEqualTo("OPENED");
            assertThat(other.waitFor()).isZero();
        }
    }
}
