package io.horcrux.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.lang.module.Configuration;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The published modules resolve on a module path with their dependencies, as an application
 * that is itself a module would see them (the build's tests run on the class path): every
 * {@code requires} is found, and the internal package reaches Horcrux's modules only.
 */
class ModulePathTest {
    private static final Set<String> PUBLISHED = Set.of("io.horcrux.core", "io.horcrux.testkit", "io.horcrux.store",
            "io.horcrux.postgres", "io.horcrux.qemu");

    @Test
    void thePublishedModulesResolveAndKeepTheirInternalsToThemselves() throws ClassNotFoundException {
        Path[] libraries = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !entry.contains("test-classes") && !entry.endsWith("-tests.jar")
                        && !entry.contains("examples"))
                .map(Path::of).toArray(Path[]::new);
        ModuleFinder finder = ModuleFinder.of(libraries);
        Configuration configuration = ModuleLayer.boot().configuration().resolve(finder, ModuleFinder.of(), PUBLISHED);
        ModuleLayer layer = ModuleLayer.boot().defineModulesWithOneLoader(configuration, ClassLoader.getPlatformClassLoader());

        Module core = layer.findModule("io.horcrux.core").orElseThrow();
        Module store = layer.findModule("io.horcrux.store").orElseThrow();
        Module qemu = layer.findModule("io.horcrux.qemu").orElseThrow();
        Module postgres = layer.findModule("io.horcrux.postgres").orElseThrow();
        Module testkit = layer.findModule("io.horcrux.testkit").orElseThrow();
        assertThat(core.isExported("io.horcrux.spi")).isTrue();
        assertThat(core.isExported("io.horcrux.internal")).isFalse();
        assertThat(core.isExported("io.horcrux.internal", store)).isTrue();
        assertThat(core.isExported("io.horcrux.internal", qemu)).isTrue();
        assertThat(core.isExported("io.horcrux.internal", testkit)).isTrue(); // the simulated driver checks source images as the QEMU driver does
        assertThat(core.isExported("io.horcrux.internal", postgres)).isFalse(); // it needs the SPI only
        assertThat(postgres.canRead(core)).isTrue();
        assertThat(testkit.canRead(core)).isTrue();
        Class<?> driver = layer.findLoader("io.horcrux.qemu").loadClass("io.horcrux.qemu.QemuDriver");
        assertThat(driver.getModule()).isSameAs(qemu);
    }
}
