package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bounded console log: newest output kept, in memory and on disk, any bytes accepted. */
class ConsoleLogTest {
    @TempDir
    Path dir;

    private static void append(ConsoleLog log, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        log.append(bytes, 0, bytes.length);
    }

    @Test
    void aFloodKeepsTheNewestBytesAndTheFileStaysWithinTwiceTheBound() throws Exception {
        ConsoleLog log = ConsoleLog.fresh(dir.resolve("serial.log"), 4096);
        for (int i = 0; i < 10_000; i++) {
            append(log, "line " + i + "\n");
        }
        String text = log.text();
        assertThat(text.length()).isLessThanOrEqualTo(4096);
        assertThat(text).endsWith("line 9999\n").doesNotContain("line 1\n");
        assertThat(Files.size(dir.resolve("serial.log"))).isLessThanOrEqualTo(2 * 4096);
        assertThat(new String(Files.readAllBytes(dir.resolve("serial.log")), StandardCharsets.UTF_8)).endsWith(text);
    }

    @Test
    void oneChunkLargerThanTheBoundKeepsItsTail() {
        ConsoleLog log = ConsoleLog.fresh(dir.resolve("serial.log"), 4096);
        append(log, "x".repeat(10_000) + "END");
        assertThat(log.text()).hasSize(4096).endsWith("END");
    }

    @Test
    void aResumedLogHasTheEarlierOutputAndAFreshOneDropsIt() {
        Path file = dir.resolve("serial.log");
        append(ConsoleLog.fresh(file, 4096), "before the restart\n");
        ConsoleLog resumed = ConsoleLog.resumed(file, 4096);
        assertThat(resumed.text()).isEqualTo("before the restart\n");
        append(resumed, "after\n");
        assertThat(ConsoleLog.resumed(file, 4096).text()).isEqualTo("before the restart\nafter\n");
        assertThat(ConsoleLog.fresh(file, 4096).text()).isEmpty();
    }

    @Test
    void hostileBytesNeverBreakIt() {
        ConsoleLog log = ConsoleLog.fresh(dir.resolve("serial.log"), 4096);
        byte[] hostile = {(byte) 0xff, (byte) 0xfe, 0x1b, '[', '2', 'J', (byte) 0xc3, 0, '\r', 'o', 'k'};
        log.append(hostile, 0, hostile.length);
        assertThat(log.text()).contains("\u001b[2J").endsWith("\rok").contains("\ufffd");
    }

    @Test
    void awaitFindsALinePrintedBeforeOrAfterAndEndsAtOnceWhenTheConsoleEnds() throws Exception {
        ConsoleLog log = ConsoleLog.fresh(dir.resolve("serial.log"), 4096);
        append(log, "booting\r\nHORCRUX-GUEST-READY\r\n");
        assertThat(log.await(Pattern.compile("READY"), Duration.ZERO)).contains("HORCRUX-GUEST-READY");
        CompletableFuture<Optional<String>> later = CompletableFuture.supplyAsync(() -> {
            try {
                return log.await(Pattern.compile("^answer: 42$"), Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        append(log, "answer: 4");
        append(log, "2\n");
        assertThat(later.get(10, TimeUnit.SECONDS)).contains("answer: 42");
        long started = System.nanoTime();
        CompletableFuture<Optional<String>> never = CompletableFuture.supplyAsync(() -> {
            try {
                return log.await(Pattern.compile("never"), Duration.ofSeconds(60));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        log.end();
        assertThat(never.get(10, TimeUnit.SECONDS)).isEmpty();
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started)).isLessThan(30);
    }

    @Test
    void followersSeeNewOutputUntilTheyStop() throws Exception {
        ConsoleLog log = ConsoleLog.fresh(dir.resolve("serial.log"), 4096);
        List<String> seen = new ArrayList<>();
        io.horcrux.Subscription following = log.follow(seen::add);
        append(log, "one");
        following.close();
        append(log, "two");
        assertThat(seen).containsExactly("one");
    }

    @Test
    void anUnfinishedLineCountsOnceTheOutputRests() throws Exception {
        ConsoleLog log = ConsoleLog.fresh(dir.resolve("serial.log"), 4096);
        append(log, "Debian GNU/Linux\nlogin: ");
        // The rule itself (never a line cut short) is GuestConsole.firstMatchingLine's, tested there.
        assertThat(log.await(Pattern.compile("login:"), Duration.ofSeconds(10))).as("a prompt, once quiet")
                .contains("login: ");
    }
}
