package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.horcrux.DriverException;
import io.horcrux.VmManager;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

class HorcruxExtensionTest {
    @RegisterExtension
    static HorcruxExtension horcrux = HorcruxExtension.simulated();

    /** Each test, whichever runs first, must find an empty inventory and leave a VM in it. */
    @Test
    void eachTestGetsAFreshManager(VmManager vms) {
        assertThat(vms.count(VmQuery.all())).isZero();
        vms.create(VmSpec.builder().id("web-1").build());
    }

    @Test
    void theParameterAndTheAccessorAreTheSameManager(VmManager vms) {
        assertThat(horcrux.manager()).isSameAs(vms);
        assertThat(vms.count(VmQuery.all())).isZero();
        vms.create(VmSpec.builder().id("web-1").build());
    }

    @Test
    void theSimulatedDriverAndTheStoreAreParametersToo(SimulatedDriver driver, InMemoryVmStore store, VmDriver asSpi) {
        assertThat(driver).isSameAs(horcrux.driver()).isSameAs(asSpi);
        assertThat(store).isSameAs(horcrux.store());
        driver.failNext(SimulatedDriver.Operation.START, new DriverException("injected"));
        horcrux.manager().create(VmSpec.builder().id("web-1").build());
        assertThatThrownBy(() -> horcrux.manager().start("web-1")).hasMessage("injected");
        assertThat(horcrux.manager().start("web-1").status()).isEqualTo(VmStatus.RUNNING);
    }

    @Test
    void outsideATestThereIsNoManager() throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try {
                horcrux.manager();
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        other.start();
        other.join();
        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("no Horcrux manager");
    }

    @Test
    void theManagerIsClosedAfterTheTest() {
        Events events = run(Closing.class);
        events.assertStatistics(s -> s.succeeded(1).failed(0));
        assertThat(Closing.seen).isNotNull();
        assertThatThrownBy(() -> Closing.seen.count(VmQuery.all())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void aTestThatLeavesAHorcruxThreadRunningFails() {
        try {
            Events events = run(Leaking.class);
            events.assertStatistics(s -> s.failed(1));
            List<Throwable> failures = new ArrayList<>();
            events.failed().stream().forEach(e -> e.getPayload(org.junit.platform.engine.TestExecutionResult.class)
                    .flatMap(org.junit.platform.engine.TestExecutionResult::getThrowable).ifPresent(failures::add));
            assertThat(failures).singleElement().satisfies(t -> assertThat(t).isInstanceOf(AssertionError.class)
                    .hasMessageContaining("horcrux-leak"));
        } finally {
            Leaking.release.countDown();
        }
    }

    @Test
    void settingsReachTheBuilder() {
        Events events = run(WithoutCache.class);
        events.assertStatistics(s -> s.succeeded(1).failed(0));
    }

    private static Events run(Class<?> testClass) {
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(testClass)).execute().testEvents();
    }

    /** Run only through {@link #run}: not a nested test, so the engine of this suite skips it. */
    static class Closing {
        static volatile VmManager seen;

        @RegisterExtension
        static HorcruxExtension horcrux = HorcruxExtension.simulated();

        @Test
        void uses(VmManager vms) {
            seen = vms;
            vms.create(VmSpec.builder().id("a").build());
        }
    }

    static class Leaking {
        static final CountDownLatch release = new CountDownLatch(1);

        @RegisterExtension
        static HorcruxExtension horcrux = HorcruxExtension.simulated();

        @Test
        void leavesAThread() {
            Thread t = new Thread(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "horcrux-leak");
            t.setDaemon(true);
            t.start();
        }
    }

    static class WithoutCache {
        @RegisterExtension
        static HorcruxExtension horcrux = HorcruxExtension.simulated().withSettings(b -> b.cacheMaximumSize(0));

        @Test
        void readsGoToTheStore(VmManager vms) {
            vms.create(VmSpec.builder().id("a").build());
            vms.get("a");
            vms.get("a");
            assertThat(vms.cacheStats().hitCount()).isZero();
        }
    }
}
