package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStats;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The simulated driver's stats under a clock the test moves: exact uptime and vCPU time. */
class SimulatedStatsTest {
    private final MovingClock clock = new MovingClock();
    private final SimulatedDriver driver = SimulatedDriver.builder().clock(clock).build();
    private final VmSpec spec = VmSpec.builder().id("sim-stats").memoryMiB(128).cpus(2)
            .disk(DiskSpec.qcow2("root", 1L << 30)).disk(DiskSpec.raw("data", 1L << 20)).build();

    @AfterEach
    void close() {
        driver.close();
    }

    @Test
    void vcpuTimeGrowsWhileRunningAndStandsStillWhilePausedAndUptimeCountsBoth() {
        driver.provision(spec);
        driver.start(spec);
        clock.advance(Duration.ofSeconds(3));
        VmStats running = driver.stats(spec.id());
        assertThat(running.uptime()).isEqualTo(Duration.ofSeconds(3));
        assertThat(running.cpuTime()).isEqualTo(Duration.ofSeconds(3));
        assertThat(running.memoryRssBytes()).isEqualTo(128L << 20);
        assertThat(running.disks()).containsOnlyKeys("root", "data");
        driver.pause(spec.id());
        clock.advance(Duration.ofSeconds(5));
        VmStats paused = driver.stats(spec.id());
        assertThat(paused.uptime()).isEqualTo(Duration.ofSeconds(8));
        assertThat(paused.cpuTime()).isEqualTo(Duration.ofSeconds(3));
        driver.resume(spec.id());
        clock.advance(Duration.ofSeconds(2));
        assertThat(driver.stats(spec.id()).cpuTime()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void aClockThatGoesBackNeverMakesTheFiguresShrinkAndARestartBeginsAgain() {
        driver.provision(spec);
        driver.start(spec);
        clock.advance(Duration.ofSeconds(10));
        VmStats first = driver.stats(spec.id());
        clock.advance(Duration.ofSeconds(-4));
        VmStats second = driver.stats(spec.id());
        assertThat(second.uptime()).isEqualTo(first.uptime());
        assertThat(second.cpuTime()).isEqualTo(first.cpuTime());
        driver.stop(spec.id(), Duration.ZERO);
        driver.start(spec);
        clock.advance(Duration.ofSeconds(1));
        assertThat(driver.stats(spec.id()).uptime()).isEqualTo(Duration.ofSeconds(1));
    }

    /** A clock that moves only when told. */
    private static final class MovingClock extends Clock {
        private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
