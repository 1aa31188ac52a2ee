package io.horcrux.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** {@link IsoInstant} writes what {@link Instant#toString()} writes. */
class IsoInstantTest {
    private static final long FIRST = Instant.parse("0001-01-01T00:00:00Z").getEpochSecond();
    private static final long LAST = Instant.parse("9999-12-31T23:59:59Z").getEpochSecond();

    @Provide
    Arbitrary<Instant> instants() {
        Arbitrary<Long> seconds = Arbitraries.oneOf(Arbitraries.longs().between(FIRST, LAST),
                Arbitraries.longs().between(-100_000_000L, 4_000_000_000L),
                Arbitraries.of(FIRST, LAST, 0L, -1L, 951_782_400L /* 2000-02-29 */, 4_107_456_000L /* 2100-02-28 */));
        Arbitrary<Integer> nanos = Arbitraries.oneOf(Arbitraries.integers().between(0, 999_999_999),
                Arbitraries.integers().between(0, 999).map(n -> n * 1_000_000),
                Arbitraries.integers().between(0, 999_999).map(n -> n * 1000), Arbitraries.of(0, 1, 999_999_999));
        return seconds.flatMap(s -> nanos.map(n -> Instant.ofEpochSecond(s, n)));
    }

    @Property(tries = 5000)
    void sameTextAsToString(@ForAll("instants") Instant t) {
        char[] out = new char[IsoInstant.MAX_LENGTH + 3];
        int n = IsoInstant.format(t, out, 3);
        assertThat(new String(out, 3, n)).isEqualTo(t.toString());
    }

    @Example
    void outsideTheYearsItWritesItSaysSo() {
        char[] out = new char[IsoInstant.MAX_LENGTH];
        assertThat(IsoInstant.format(Instant.ofEpochSecond(FIRST - 1), out)).isEqualTo(-1);
        assertThat(IsoInstant.format(Instant.ofEpochSecond(LAST + 1), out)).isEqualTo(-1);
        assertThat(IsoInstant.format(Instant.MIN, out)).isEqualTo(-1);
        assertThat(IsoInstant.format(Instant.MAX, out)).isEqualTo(-1);
    }
}
