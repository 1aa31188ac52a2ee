package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class SimulatedDriverTest extends VmDriverContract {
    @Override
    protected VmDriver newDriver() {
        return SimulatedDriver.create();
    }

    @Override
    protected void killBehindTheBack(String vmId) {
        ((SimulatedDriver) driver).crash(vmId, "killed by signal 9");
    }

    private SimulatedDriver sim() {
        return (SimulatedDriver) driver;
    }

    @Test
    void aGuestPowerOffIsNoticedAsStopped() throws InterruptedException {
        VmSpec spec = provisioned("sim-off");
        driver.start(spec);
        sim().guestPowerOff(spec.id());
        Notice notice = awaitNotice(spec.id());
        assertThat(notice.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(notice.reason()).isEqualTo("guest powered off");
    }

    @Test
    void injectedFaultsHitTheNextCallOnly() {
        VmSpec spec = provisioned("sim-fault");
        sim().failNext(SimulatedDriver.Operation.START, new DriverException("injected"));
        assertThatThrownBy(() -> driver.start(spec)).hasMessage("injected");
        driver.start(spec);
        assertThat(sim().activeCount()).isEqualTo(1);
    }

    @Test
    void faultsForOneVmSpareTheOthers() {
        VmSpec a = provisioned("sim-a");
        VmSpec b = provisioned("sim-b");
        sim().failNext(SimulatedDriver.Operation.START, "sim-b", new DriverException("only b"));
        driver.start(a);
        assertThatThrownBy(() -> driver.start(b)).hasMessage("only b");
        driver.start(b);
    }

    @Test
    void settingsRejectNegativeDurations() {
        assertThatThrownBy(() -> SimulatedDriver.builder().operationDelay(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("operationDelay");
    }

    @Test
    void callsAfterCloseFail() {
        driver.close();
        assertThatThrownBy(() -> driver.status("x")).isInstanceOf(IllegalStateException.class);
        driver = newDriver();
    }
}
