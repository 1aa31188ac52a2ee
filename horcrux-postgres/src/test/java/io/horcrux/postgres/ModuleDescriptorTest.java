package io.horcrux.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleDescriptor.Exports;
import java.lang.module.ModuleDescriptor.Opens;
import java.lang.module.ModuleDescriptor.Requires;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** What the store's module descriptor shows the world: the one package with PostgresVmStore. */
class ModuleDescriptorTest {
    private static final ModuleDescriptor MODULE = descriptorOf(PostgresVmStore.class);

    @Test
    void exportsExactlyItsApi() {
        assertThat(MODULE.name()).isEqualTo("io.horcrux.postgres");
        assertThat(exports(MODULE)).containsOnly(entry("io.horcrux.postgres", Set.of()));
        // The schema migrations are resources of a package of their own, not exported.
        assertThat(MODULE.packages()).containsExactlyInAnyOrder("io.horcrux.postgres", "io.horcrux.postgres.migrations");
        assertThat(opens(MODULE)).isEmpty();
        assertThat(transitive(MODULE)).containsExactlyInAnyOrder("io.horcrux.core", "java.sql");
    }

    /** The descriptor compiled beside {@code type}: in target/classes, or in the module's jar. */
    private static ModuleDescriptor descriptorOf(Class<?> type) {
        try {
            Path location = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
            return ModuleFinder.of(location).findAll().stream().findFirst()
                    .orElseThrow(() -> new AssertionError("no module at " + location)).descriptor();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Each exported package with the modules it is exported to (empty: to everyone). */
    private static Map<String, Set<String>> exports(ModuleDescriptor module) {
        return module.exports().stream().collect(Collectors.toMap(Exports::source, Exports::targets));
    }

    private static Set<String> transitive(ModuleDescriptor module) {
        return module.requires().stream().filter(r -> r.modifiers().contains(Requires.Modifier.TRANSITIVE))
                .map(Requires::name).collect(Collectors.toSet());
    }

    private static Map<String, Set<String>> opens(ModuleDescriptor module) {
        return module.opens().stream().collect(Collectors.toMap(Opens::source, Opens::targets));
    }
}
