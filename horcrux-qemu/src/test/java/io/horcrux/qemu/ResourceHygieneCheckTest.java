package io.horcrux.qemu;

import io.horcrux.testkit.ResourceHygiene;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The end-of-suite check finds each kind of leak it is meant to find, and only those. */
class ResourceHygieneCheckTest {
    @TempDir
    Path dir;

    @Test
    void findsALiveHorcruxThreadAndForgetsItOnceItEnds() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Thread leak = new Thread(() -> {
            try {
                release.await();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "horcrux-probe-leak");
        leak.start();
        ResourceHygiene hygiene = new ResourceHygiene(dir, dir, Instant.EPOCH);
        try {
            assertThat(hygiene.violations()).anyMatch(v -> v.contains("'horcrux-probe-leak' (non-daemon"));
        } finally {
            release.countDown();
            leak.join();
        }
        assertThat(hygiene.violations()).noneMatch(v -> v.contains("horcrux-probe-leak"));
    }

    @Test
    void findsAnOpenPoolByItsHousekeeper() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Thread housekeeper = new Thread(() -> {
            try {
                release.await();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "HikariPool-probe housekeeper");
        housekeeper.setDaemon(true);
        housekeeper.start();
        try {
            assertThat(new ResourceHygiene(dir, dir, Instant.EPOCH).violations())
                    .anyMatch(v -> v.startsWith("HikariCP pool thread 'HikariPool-probe housekeeper'"));
        } finally {
            release.countDown();
            housekeeper.join();
        }
    }

    @Test
    void findsSocketDirectoriesMadeSinceTheStartOnly() throws Exception {
        Path tmp = Files.createDirectory(dir.resolve("tmp"));
        Files.createDirectory(tmp.resolve("horcrux-0123456789ab"));
        Files.createDirectory(tmp.resolve("horcrux-bench-42"));
        assertThat(new ResourceHygiene(dir, tmp, Instant.EPOCH).violations())
                .anyMatch(v -> v.startsWith("QMP socket directory " + tmp.resolve("horcrux-0123456789ab")))
                .noneMatch(v -> v.contains("horcrux-bench-42"));
        assertThat(new ResourceHygiene(dir, tmp, Instant.now().plusSeconds(60)).violations())
                .noneMatch(v -> v.contains("horcrux-0123456789ab"));
    }

    @Test
    void findsAQemuProcessThatMentionsTheModuleAndAssertCleanFailsAndKillsIt() throws Exception {
        Path module = Files.createDirectory(dir.resolve("module"));
        Process qemu = new ProcessBuilder(List.of("qemu-system-x86_64", "-machine", "none", "-nodefaults",
                "-display", "none", "-name", "guest=probe", "-pidfile", module.resolve("qemu.pid").toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
        try {
            QemuItSupport.await("QEMU to start", Duration.ofSeconds(30), () -> Files.exists(module.resolve("qemu.pid")));
            assertThat(new ResourceHygiene(module, dir, Instant.EPOCH).violations())
                    .anyMatch(v -> v.startsWith("QEMU process " + qemu.pid()));
            assertThatThrownBy(() -> ResourceHygiene.assertClean(module))
                    .isInstanceOf(AssertionError.class)
                    .hasMessageContaining("QEMU process " + qemu.pid());
            QemuItSupport.await("the leftover QEMU to be killed", Duration.ofSeconds(10), () -> !qemu.isAlive());
        } finally {
            qemu.destroyForcibly().waitFor();
        }
        assertThat(new ResourceHygiene(module, dir, Instant.EPOCH).violations()).noneMatch(v -> v.startsWith("QEMU"));
    }
}
