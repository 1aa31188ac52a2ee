package io.horcrux.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SharedTextTest {
    @Test
    void theSameShortAsciiTextIsOneString() {
        String a = SharedText.of("stopped by the owner".getBytes(StandardCharsets.US_ASCII));
        String b = SharedText.of("xxstopped by the ownerxx".getBytes(StandardCharsets.US_ASCII), 2, 20);
        assertThat(a).isEqualTo("stopped by the owner").isSameAs(b);
    }

    @Test
    void otherTextIsDecodedAsUtf8EveryTime() {
        byte[] accented = "arr\u00eat\u00e9 \u4e2d".getBytes(StandardCharsets.UTF_8);
        assertThat(SharedText.of(accented)).isEqualTo("arr\u00eat\u00e9 \u4e2d");
        byte[] tab = "a\tb".getBytes(StandardCharsets.US_ASCII);
        assertThat(SharedText.of(tab)).isEqualTo("a\tb");
        byte[] longText = "x".repeat(SharedText.MAX_LENGTH + 1).getBytes(StandardCharsets.US_ASCII);
        assertThat(SharedText.of(longText)).isEqualTo("x".repeat(SharedText.MAX_LENGTH + 1))
                .isNotSameAs(SharedText.of(longText));
    }

    @Test
    void aCollisionGivesTheRightTextNotTheSlotsOccupant() {
        // "Aa" and "BB" have the same hash: each read still gives its own text.
        for (int i = 0; i < 3; i++) {
            assertThat(SharedText.of("Aa".getBytes(StandardCharsets.US_ASCII))).isEqualTo("Aa");
            assertThat(SharedText.of("BB".getBytes(StandardCharsets.US_ASCII))).isEqualTo("BB");
        }
    }
}
