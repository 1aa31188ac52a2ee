package io.horcrux.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.VmManager;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.testkit.HorcruxExtension;
import io.horcrux.testkit.SimulatedDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** How an application's tests get a manager from {@code horcrux-testkit}, on the simulated driver. */
class ExtensionExampleTest {
    @RegisterExtension
    static HorcruxExtension horcrux = HorcruxExtension.simulated();

    @Test
    void aTestGetsAFreshManager(VmManager vms) {
        vms.create(VmSpec.builder().id("web-1").memoryMiB(128).build());
        assertThat(vms.start("web-1").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(horcrux.manager().count(VmQuery.all())).isEqualTo(1);
    }

    @Test
    void theSimulatedDriverInjectsFaults() {
        SimulatedDriver driver = (SimulatedDriver) horcrux.driver();
        driver.failNext(SimulatedDriver.Operation.START, new DriverException("no space left on device"));
        horcrux.manager().create(VmSpec.builder().id("web-1").build());

        assertThatThrownBy(() -> horcrux.manager().start("web-1")).isInstanceOf(DriverException.class);
        assertThat(horcrux.manager().get("web-1").status()).isEqualTo(VmStatus.STOPPED);
    }
}
