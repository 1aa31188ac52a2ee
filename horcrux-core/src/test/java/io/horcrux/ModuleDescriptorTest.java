package io.horcrux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleDescriptor.Exports;
import java.lang.module.ModuleDescriptor.Requires;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * What core's module descriptor shows the world: the API packages to everyone, the internal
 * package to Horcrux's own store and driver only, nothing else; Micrometer only if present.
 */
class ModuleDescriptorTest {
    private static final ModuleDescriptor MODULE = descriptorOf(VmManager.class);

    @Test
    void exportsTheApiToEveryoneAndInternalsToHorcruxModulesOnly() {
        assertThat(MODULE.name()).isEqualTo("io.horcrux.core");
        assertThat(exports(MODULE)).containsOnly(
                entry("io.horcrux", Set.of()),
                entry("io.horcrux.model", Set.of()),
                entry("io.horcrux.spi", Set.of()),
                entry("io.horcrux.internal", Set.of("io.horcrux.store", "io.horcrux.qemu", "io.horcrux.testkit")));
        assertThat(MODULE.packages()).isEqualTo(exports(MODULE).keySet());
        assertThat(MODULE.opens()).isEmpty();
        assertThat(MODULE.isOpen()).isFalse();
    }

    @Test
    void micrometerIsOptional() {
        assertThat(MODULE.requires()).filteredOn(r -> r.name().equals("micrometer.core")).singleElement()
                .satisfies(r -> assertThat(r.modifiers()).containsExactly(Requires.Modifier.STATIC));
        assertThat(MODULE.requires()).extracting(Requires::name)
                .contains("com.github.benmanes.caffeine", "com.fasterxml.jackson.core", "org.slf4j");
    }

    /** The descriptor compiled beside {@code type}: in target/classes, or in the module's jar. */
    static ModuleDescriptor descriptorOf(Class<?> type) {
        try {
            Path location = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
            return ModuleFinder.of(location).findAll().stream().findFirst()
                    .orElseThrow(() -> new AssertionError("no module at " + location)).descriptor();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Each exported package with the modules it is exported to (empty: to everyone). */
    static Map<String, Set<String>> exports(ModuleDescriptor module) {
        return module.exports().stream().collect(Collectors.toMap(Exports::source, Exports::targets));
    }
}
