package io.horcrux.qemu;

import io.horcrux.testkit.ResourceHygiene;
import java.nio.file.Path;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * Runs last among this module's unit tests ({@code junit-platform.properties} orders classes
 * by {@link Order}): the suite left no QEMU, thread, pool or socket directory behind.
 */
@Order(Integer.MAX_VALUE)
class ResourceHygieneTest {
    @Test
    void theSuiteLeftNothingBehind() {
        ResourceHygiene.assertClean(Path.of(""));
    }
}
