package io.horcrux.postgres;

import io.horcrux.testkit.ResourceHygiene;
import java.nio.file.Path;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * Runs last in this module's unit-test JVM ({@code junit-platform.properties} orders classes
 * by {@link Order}): no store left a HikariCP pool open, no thread named {@code horcrux-*} lives on.
 */
@Order(Integer.MAX_VALUE)
class ResourceHygieneTest {
    @Test
    void theSuiteLeftNothingBehind() {
        ResourceHygiene.assertClean(Path.of(""));
    }
}
