package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmStatus;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code runAs}: QEMU drops to the given user after opening its files, and the VM still works
 * over QMP. Run as root, it checks the uids of the real process; run as another user, it checks
 * that the driver refuses to build, since QEMU could not switch user.
 */
class QemuRunAsIT {
    private static Path root;

    @BeforeAll
    static void createRoot() throws Exception {
        root = QemuItSupport.newStateDirectory("runas");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    private static boolean jvmIsRoot() throws Exception {
        return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void qemuRunsAsNobodyAndStillStartsAnswersAndStops() throws Exception {
        Path state = root.resolve("nobody");
        if (!jvmIsRoot()) {
            assertThatThrownBy(() -> QemuItSupport.driverBuilder(state).runAs("nobody").build())
                    .isInstanceOf(DriverException.class)
                    .hasMessageContaining("needs the JVM to run as root");
            return;
        }
        int nobody = uidOf("nobody");
        try (QemuDriver driver = QemuItSupport.driverBuilder(state).runAs("nobody").build()) {
            assertThat(driver.runAs()).contains("nobody");
            driver.provision(QemuItSupport.spec("dropped"));
            VmRuntime runtime = driver.start(QemuItSupport.spec("dropped"));
            List<Integer> uids = uids(runtime.pid());
            assertThat(uids).as("real, effective, saved and filesystem uid of QEMU").containsOnly(nobody);
            assertThat(driver.status("dropped")).isEqualTo(VmStatus.RUNNING);
            driver.pause("dropped");
            assertThat(driver.status("dropped")).isEqualTo(VmStatus.PAUSED);
            driver.resume("dropped");
            assertThat(driver.status("dropped")).isEqualTo(VmStatus.RUNNING);
            // What it runs as cannot read what it no longer holds open.
            assertThat(mode(driver.files("dropped").directory())).isEqualTo("rwx------");
            assertThat(mode(driver.files("dropped").qmpSocket())).isEqualTo("rw-------");
            driver.stop("dropped", Duration.ZERO);
            assertThat(QemuItSupport.isGone(runtime.pid())).isTrue();
            assertThat(driver.status("dropped")).isEqualTo(VmStatus.STOPPED);
            driver.deprovision(QemuItSupport.spec("dropped"));
        }
    }

    private static int uidOf(String user) throws Exception {
        for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
            String[] f = line.split(":");
            if (f.length > 2 && f[0].equals(user)) {
                return Integer.parseInt(f[2]);
            }
        }
        throw new AssertionError("no user " + user + " in /etc/passwd");
    }

    private static List<Integer> uids(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Uid:")) {
                return java.util.Arrays.stream(line.substring(4).strip().split("\\s+")).map(Integer::valueOf).toList();
            }
        }
        throw new AssertionError("no Uid line for pid " + pid);
    }

    private static String mode(Path p) throws Exception {
        return java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }
}
