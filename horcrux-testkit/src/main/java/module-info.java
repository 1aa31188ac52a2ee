/**
 * For tests of code that uses Horcrux and of new stores and drivers: the in-memory store, the
 * simulated driver, the contracts, the JUnit 5 extension and the resource hygiene check, all in
 * {@code io.horcrux.testkit}. The package is open to JUnit, which calls the contracts' set-up and
 * tear-down methods reflectively.
 */
module io.horcrux.testkit {
    requires transitive io.horcrux.core;
    requires transitive org.junit.jupiter.api;
    requires org.assertj.core;
    requires micrometer.core;
    requires java.management;
    requires java.sql;

    exports io.horcrux.testkit;
    opens io.horcrux.testkit to org.junit.platform.commons;
}
