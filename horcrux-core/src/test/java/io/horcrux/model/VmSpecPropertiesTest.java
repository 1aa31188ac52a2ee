package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.InvalidVmSpecException;
import io.horcrux.internal.VmJson;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Thousands of arbitrary inputs: a spec is either valid and safe, or refused with violations. */
class VmSpecPropertiesTest {

    @Provide
    Arbitrary<String> hostileStrings() {
        return Arbitraries.oneOf(
                Arbitraries.strings().all().ofMaxLength(300),
                Arbitraries.strings().withChars("abz09-,=\n\u0000/.$;`'\" ").ofMaxLength(70),
                Arbitraries.of("..", "../x", "a,b", "a=b", "$(id)", "`id`", "a;b", "a|b", "x\ny", "", " ", "A",
                        "'; DROP TABLE vms; --", "a".repeat(64), "a".repeat(63)));
    }

    @Property(tries = 3000)
    void anyIdIsEitherSafeOrRefused(@ForAll("hostileStrings") String id) {
        try {
            VmSpec spec = VmSpec.builder().id(id).build();
            assertThat(spec.id()).matches("[a-z0-9][a-z0-9-]{0,62}");
        } catch (InvalidVmSpecException e) {
            assertThat(e.violations()).extracting(Violation::field).containsExactly("id");
        }
    }

    @Property(tries = 2000)
    void anyNameAndLabelIsEitherKeptVerbatimOrRefused(@ForAll("hostileStrings") String name,
                                                       @ForAll("hostileStrings") String key,
                                                       @ForAll("hostileStrings") String value) {
        try {
            VmSpec spec = VmSpec.builder().id("a").name(name).label(key, value).build();
            assertThat(spec.name()).isEqualTo(name);
            assertThat(spec.labels()).containsExactly(Map.entry(key, value));
            assertThat(name + value).doesNotContainPattern("\\p{Cntrl}");
        } catch (InvalidVmSpecException e) {
            assertThat(e.violations()).isNotEmpty()
                    .allSatisfy(v -> assertThat(v.field()).matches("(?s)name|labels\\[.*\\]"));
        }
    }

    @Property(tries = 2000)
    void numbersOutsideTheirBoundsAreAlwaysRefused(@ForAll long memory, @ForAll int cpus, @ForAll long diskBytes) {
        boolean memoryOk = memory >= VmSpec.MIN_MEMORY_MIB && memory <= VmSpec.MAX_MEMORY_MIB;
        boolean cpusOk = cpus >= 1 && cpus <= VmSpec.MAX_CPUS;
        boolean diskOk = diskBytes >= VmSpec.MIN_DISK_BYTES && diskBytes <= VmSpec.MAX_DISK_BYTES && diskBytes % 512 == 0;
        try {
            VmSpec.builder().id("a").memoryMiB(memory).cpus(cpus).disk(DiskSpec.qcow2("d", diskBytes)).build();
            assertThat(memoryOk && cpusOk && diskOk).isTrue();
        } catch (InvalidVmSpecException e) {
            List<String> fields = e.violations().stream().map(Violation::field).toList();
            assertThat(fields.contains("memoryMiB")).isEqualTo(!memoryOk);
            assertThat(fields.contains("cpus")).isEqualTo(!cpusOk);
            assertThat(fields.contains("disks[0].sizeBytes")).isEqualTo(!diskOk);
        }
    }

    @Property(tries = 1000)
    void everyValidSpecSurvivesJson(@ForAll("hostileStrings") String name, @ForAll("hostileStrings") String value)
            throws Exception {
        VmSpec spec;
        try {
            spec = VmSpec.builder().id("a").name(name).label("k", value).nic(NicSpec.user("eth0")).build();
        } catch (InvalidVmSpecException refused) {
            return;
        }
        assertThat(VmJson.specFromJson(VmJson.specToJson(spec))).isEqualTo(spec);
    }
}
