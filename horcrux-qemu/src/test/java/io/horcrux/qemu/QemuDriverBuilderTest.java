package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad settings fail at build, before any VM exists, with a message that says what to fix. */
class QemuDriverBuilderTest {
    @TempDir
    Path dir;

    @Test
    void defaults() {
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("state")).accelerator(Accelerator.TCG).build()) {
            assertThat(driver.defaultStopGrace()).isEqualTo(Duration.ofSeconds(30));
            assertThat(driver.name()).isEqualTo("qemu");
            assertThat(driver.stateDirectory()).isEqualTo(dir.resolve("state"));
            assertThat(driver.toString()).contains("Q35").contains("TCG").doesNotContain("operator");
            assertThat(driver.operatorMonitor("any")).as("no VM runs, so no operator monitor").isEmpty();
            assertThat(driver.operatorMonitor("../../etc")).isEmpty();
            assertThatThrownBy(() -> driver.operatorMonitor(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("vmId");
        }
    }

    @Test
    void aMissingStateDirectoryIsCreatedOwnerOnly() throws Exception {
        Path state = dir.resolve("a/b/state");
        QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build().close();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state))).isEqualTo("rwx------");
    }

    @Test
    void aMissingQemuBinaryNamesTheDebianPackage() {
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(dir).qemuBinary(dir.resolve("qemu-nope")).build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("qemu-nope")
                .hasMessageContaining("qemu-system-x86");
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(dir).qemuImgBinary(dir.resolve("img-nope")).build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("qemu-utils");
    }

    @Test
    void aNonExecutableBinaryIsRefused() throws Exception {
        Path fake = Files.createFile(dir.resolve("qemu-system-x86_64"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")));
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(dir.resolve("s")).qemuBinary(fake).build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("not executable");
        assertThat(dir.resolve("s")).doesNotExist();
    }

    @Test
    void anExecutableThatIsNotQemuIsRefused() {
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(dir.resolve("s")).qemuBinary(Path.of("/bin/false"))
                .accelerator(Accelerator.TCG).build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("does not run");
    }

    @Test
    void aStateDirectoryThatIsAFileIsRefused() throws Exception {
        Path file = Files.createFile(dir.resolve("file"));
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(file).accelerator(Accelerator.TCG).build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("not a directory");
    }

    /** Root passes access(2) whatever the mode, so the driver checks the owner bits explicitly. */
    @Test
    void aStateDirectoryWithoutWritePermissionIsRefusedEvenForRoot() throws Exception {
        Path readOnly = Files.createDirectory(dir.resolve("ro"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("r-x------")));
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(readOnly).accelerator(Accelerator.TCG).build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("not writable")
                .hasMessageContaining("r-x------");
    }

    @Test
    void aStateDirectoryThatCannotBeCreatedIsRefused() {
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(Path.of("/proc/horcrux-state")).accelerator(Accelerator.TCG).build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("/proc/horcrux-state");
    }

    @Test
    void aStateDirectoryWithAControlCharacterIsRefused() {
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(dir.resolve("a\nb")).accelerator(Accelerator.TCG).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("control characters");
        assertThat(dir).isEmptyDirectory();
    }

    @Test
    void everySettingMayBeGivenOnce() {
        QemuDriver.Builder b = QemuDriver.builder().stateDirectory(dir);
        assertThatThrownBy(() -> b.stateDirectory(dir)).isInstanceOf(IllegalStateException.class).hasMessageContaining("stateDirectory");
        b.accelerator(Accelerator.TCG);
        assertThatThrownBy(() -> b.accelerator(Accelerator.KVM)).isInstanceOf(IllegalStateException.class);
        b.qmpTimeout(Duration.ofSeconds(1));
        assertThatThrownBy(() -> b.qmpTimeout(Duration.ofSeconds(2))).isInstanceOf(IllegalStateException.class);
        b.operatorMonitor(false);
        assertThatThrownBy(() -> b.operatorMonitor(true)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("operatorMonitor was already set to false");
        assertThatThrownBy(() -> b.defaultStopGrace(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QemuDriver.builder().qmpTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QemuDriver.builder().build()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("stateDirectory is required");
    }

    @Test
    void aStateDirectoryHasOneDriverAtATime() {
        Path state = dir.resolve("shared");
        try (QemuDriver first = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build()) {
            assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build())
                    .isInstanceOf(DriverException.class)
                    .hasMessageContaining(state.toString())
                    .hasMessageContaining("in use in this process by another QemuDriver")
                    .hasMessageContaining("pid " + ProcessHandle.current().pid());
            assertThat(first.stateDirectory()).isEqualTo(state);
        }
        QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build().close();
    }

    @Test
    void provisionedIdsAreTheVmDirectoriesAndNothingElse() throws Exception {
        Path state = dir.resolve("listed");
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(state).accelerator(Accelerator.TCG).build()) {
            driver.provision(io.horcrux.model.VmSpec.builder().id("vm-1").build());
            Files.createDirectory(state.resolve("Not-An-Id"));
            Files.createFile(state.resolve("file-1"));
            Files.createSymbolicLink(state.resolve("link-1"), dir);
            assertThat(driver.provisionedIds()).containsExactly("vm-1");
            assertThat(state.resolve(StateDirectory.LOCK_FILE)).exists();
        }
    }

    @Test
    void runAsIsUnsetByDefaultAndTakesOnlyPortableUserNames() {
        try (QemuDriver driver = QemuDriver.builder().stateDirectory(dir.resolve("s")).accelerator(Accelerator.TCG).build()) {
            assertThat(driver.runAs()).isEmpty();
        }
        for (String bad : new String[] {"", "-runas", "no body", "a,b", "../x", "root;id", "Nobody", "1user", "x\n",
                "u".repeat(33), "nobody\0"}) {
            assertThatThrownBy(() -> QemuDriver.builder().runAs(bad))
                    .as("runAs '%s'", bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("runAs");
        }
        assertThatThrownBy(() -> QemuDriver.builder().runAs("nobody").runAs("nobody"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("runAs was already set");
    }

    @Test
    void aRunAsUserTheHostDoesNotHaveFailsAtBuild() {
        assertThatThrownBy(() -> QemuDriver.builder().stateDirectory(dir.resolve("s")).accelerator(Accelerator.TCG)
                .runAs("horcrux-no-such-user").build())
                .isInstanceOf(DriverException.class)
                .hasMessageContaining("'horcrux-no-such-user' does not exist");
        assertThat(dir.resolve("s")).doesNotExist();
    }
}
