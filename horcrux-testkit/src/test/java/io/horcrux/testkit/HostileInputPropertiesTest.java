package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmManager;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Arbitrary strings thrown at every public method of the manager that takes one: each call
 * either works or throws the documented exception, and nothing in the inventory changes.
 */
class HostileInputPropertiesTest {
    private static VmManager manager;
    private static SimulatedDriver driver;

    @BeforeContainer
    static void build() {
        driver = SimulatedDriver.create();
        manager = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).build();
        manager.createAll(List.of(VmSpec.builder().id("a").build(), VmSpec.builder().id("b").label("env", "x").build()));
        manager.start("b");
    }

    @AfterContainer
    static void close() {
        manager.close();
    }

    @Provide
    Arbitrary<String> hostile() {
        return Arbitraries.oneOf(
                Arbitraries.strings().all().ofMaxLength(200),
                Arbitraries.strings().withChars("ab-,=\n\u0000/.$;`'\"\\ %*").ofMaxLength(40),
                Arbitraries.of("a", "b", "", " ", "..", "../a", "a/../b", "A", "a'; DELETE FROM vms; --", "%", "*",
                        "a".repeat(10_000), "b\u0000", "a,b"));
    }

    @Property(tries = 2000)
    void idsReachNothingTheyShouldNot(@ForAll("hostile") String id) {
        long before = manager.count(VmQuery.all());
        if (!id.equals("a") && !id.equals("b")) {
            assertThat(manager.find(id)).isEmpty();
            for (Consumer<String> call : List.<Consumer<String>>of(manager::get, manager::start, manager::stop,
                    i -> manager.stop(i, Duration.ZERO), manager::pause, manager::resume, manager::reset,
                    manager::delete)) {
                try {
                    call.accept(id);
                    throw new AssertionError("a call with unknown id '" + id + "' succeeded");
                } catch (VmNotFoundException expected) {
                    assertThat(expected.vmId()).isEqualTo(id);
                }
            }
            assertThat(manager.startAll(List.of(id)).failed().get(id)).isInstanceOf(VmNotFoundException.class);
            assertThat(manager.deleteAll(List.of(id)).failed().get(id)).isInstanceOf(VmNotFoundException.class);
        }
        assertThat(manager.count(VmQuery.all())).isEqualTo(before);
        assertThat(manager.get("b").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(driver.activeCount()).isEqualTo(1);
    }

    @Property(tries = 2000)
    void queriesAcceptOnlyWhatTheyDocument(@ForAll("hostile") String key, @ForAll("hostile") String value,
                                           @ForAll("hostile") String cursor) {
        VmQuery query = VmQuery.all();
        try {
            query = query.withLabel(key, value);
        } catch (IllegalArgumentException refused) {
            assertThat(refused.getMessage()).contains("label");
        }
        try {
            query = query.after(cursor);
        } catch (IllegalArgumentException refused) {
            assertThat(refused.getMessage()).startsWith("after:");
        }
        VmQuery built = query;
        assertThat(manager.list(built).items()).allSatisfy(vm -> assertThat(built.matches(vm)).isTrue());
        assertThat(manager.count(VmQuery.all())).isEqualTo(2);
    }
}
