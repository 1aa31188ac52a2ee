package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** The hand-written checks of {@link SpecRules} accept exactly what their patterns match. */
class SpecRulesTest {

    @Provide
    Arbitrary<String> candidates() {
        return Arbitraries.oneOf(
                Arbitraries.strings().withChars("az09AZ-._/:fg\u00e9\u0131\u212a ").ofMaxLength(70),
                Arbitraries.strings().withChars("0123456789abcdefABCDEF:g").ofMinLength(15).ofMaxLength(19),
                Arbitraries.strings().all().ofMaxLength(80),
                Arbitraries.of("", "-", "a", "-a", "a-", "0", "a".repeat(32), "a".repeat(33), "a".repeat(63),
                        "a".repeat(64), "52:54:00:12:34:56", "52:54:00:12:34:5g", "52:54:00:12:34:567",
                        "52-54-00-12-34-56", "52:54:00:12:34:56\n", "A.b_c/d-e", ".a", "/a"));
    }

    @Property(tries = 4000)
    void eachCheckAgreesWithItsPattern(@ForAll("candidates") String s) {
        assertThat(SpecRules.isId(s)).as("id %s", s).isEqualTo(SpecRules.ID.matcher(s).matches());
        assertThat(SpecRules.isPartName(s)).as("part name %s", s).isEqualTo(SpecRules.PART_NAME.matcher(s).matches());
        assertThat(SpecRules.isLabelKey(s)).as("label key %s", s).isEqualTo(SpecRules.LABEL_KEY.matcher(s).matches());
        assertThat(SpecRules.isMac(s)).as("mac %s", s).isEqualTo(SpecRules.MAC.matcher(s).matches());
    }

    @Example
    void nullIsNeverValid() {
        assertThat(SpecRules.isId(null)).isFalse();
        assertThat(SpecRules.isPartName(null)).isFalse();
        assertThat(SpecRules.isLabelKey(null)).isFalse();
        assertThat(SpecRules.isMac(null)).isFalse();
    }
}
