package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.Cancellation;
import io.horcrux.DriverException;
import io.horcrux.OperationCancelledException;
import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Progress;
import io.horcrux.model.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The simulated driver's disks from images, through a manager: what a user's test reaches without QEMU. */
class SimulatedImagesTest {
    @TempDir
    Path images;

    @Test
    void aSlowCopyReportsEachQuarterAndIsCancelledFromAnotherThreadLeavingNothing() throws Exception {
        Path golden = Files.write(images.resolve("golden.img"), new byte[1 << 20]);
        SimulatedDriver driver = SimulatedDriver.builder().copyTime(Duration.ofSeconds(20)).build();
        try (VmManager vms = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).build()) {
            VmSpec spec = VmSpec.builder().id("slow").disk(DiskSpec.copyOf("root", golden)).build();
            Cancellation cancellation = Cancellation.create();
            CountDownLatch started = new CountDownLatch(1);
            List<Progress> seen = new CopyOnWriteArrayList<>();
            CompletableFuture<?> create = CompletableFuture.runAsync(() -> vms.create(spec, p -> {
                seen.add(p);
                started.countDown();
            }, cancellation));
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            cancellation.cancel();
            assertThatThrownBy(() -> create.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(OperationCancelledException.class);
            assertThat(seen).containsExactly(new Progress("slow", Progress.COPY, "root", 0));
            assertThat(vms.find("slow")).isEmpty();
            assertThat(driver.provisionedIds()).isEmpty();
        }
    }

    @Test
    void aCopyReportsZeroToAHundredAndACdromRefusesWrites() throws Exception {
        Path golden = Files.write(images.resolve("golden.img"), new byte[1 << 20]);
        SimulatedDriver driver = SimulatedDriver.create();
        try (VmManager vms = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).build()) {
            List<Progress> seen = new CopyOnWriteArrayList<>();
            vms.create(VmSpec.builder().id("vm").disk(DiskSpec.copyOf("root", golden))
                    .disk(DiskSpec.cdrom("media", golden)).build(), seen::add, Cancellation.create());
            assertThat(seen).extracting(Progress::percent).containsExactly(0.0, 25.0, 50.0, 75.0, 100.0);
            vms.start("vm");
            driver.diskWrite("vm", "root", 4096);
            assertThatThrownBy(() -> driver.diskWrite("vm", "media", 4096)).isInstanceOf(DriverException.class)
                    .hasMessageContaining("read-only");
            assertThat(vms.stats("vm").disk("root").writtenBytes()).isEqualTo(4096);
        }
    }
}
