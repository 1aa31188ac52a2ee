/**
 * Horcrux's core: the {@link io.horcrux.VmManager} facade and its builder, the model
 * ({@code io.horcrux.model}), and the two plug points a store and a driver implement
 * ({@code io.horcrux.spi}). {@code io.horcrux.internal} is shared with Horcrux's own store, driver
 * and test kit modules only. Micrometer is optional: read it to pass a {@code MeterRegistry} to the
 * builder.
 */
module io.horcrux.core {
    requires com.fasterxml.jackson.core;
    requires com.github.benmanes.caffeine;
    requires org.slf4j;
    requires static micrometer.core;

    exports io.horcrux;
    exports io.horcrux.model;
    exports io.horcrux.spi;
    exports io.horcrux.internal to io.horcrux.store, io.horcrux.qemu, io.horcrux.testkit;
}
