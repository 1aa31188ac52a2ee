package io.horcrux.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The line rule every console's await follows. */
class GuestConsoleTest {

    @Test
    void completeLinesMatchWithoutTheirLineEnds() {
        String output = "booting\r\nHORCRUX-GUEST-READY\r\nanswer: 42\n";
        assertThat(GuestConsole.firstMatchingLine(output, Pattern.compile("READY"), false)).contains("HORCRUX-GUEST-READY");
        assertThat(GuestConsole.firstMatchingLine(output, Pattern.compile("^answer: \\d+$"), false)).contains("answer: 42");
        assertThat(GuestConsole.firstMatchingLine(output, Pattern.compile("never"), true)).isEmpty();
        assertThat(GuestConsole.firstMatchingLine("", Pattern.compile(""), true)).isEmpty();
    }

    @Test
    void theUnfinishedLastLineCountsOnlyWhenTheOutputRests() {
        String output = "ok\nLinux 6.1.0-57-c";
        assertThat(GuestConsole.firstMatchingLine(output, Pattern.compile("^Linux"), false)).isEmpty();
        assertThat(GuestConsole.firstMatchingLine(output, Pattern.compile("^Linux"), true)).contains("Linux 6.1.0-57-c");
        assertThat(GuestConsole.firstMatchingLine("a\nb\n", Pattern.compile("^b$"), false)).contains("b");
    }
}
