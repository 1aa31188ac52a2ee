package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;
import io.horcrux.testkit.TestGuest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Boots the test guest that {@code scripts/build-test-guest} builds, on raw QEMU (no driver):
 * the readiness line on the serial console, a command typed there and its answer, then the ACPI
 * power button ({@code system_powerdown} over QMP) and QEMU exiting by itself because the guest
 * powered off. On q35 and on microvm, under TCG.
 *
 * <p>The guest is found through the system property {@code horcrux.testGuest} (the directory of
 * {@code guest.properties}), else the environment variable {@code HORCRUX_GUEST_DIR}, else
 * {@code ~/.cache/horcrux/test-guest}, the script's own default. A missing guest fails the test
 * with the command that builds it. {@code horcrux.testGuest.boots} (default 1) boots each machine
 * that many times and prints the times.
 */
class TestGuestIT {
    private static final int BOOTS = Integer.getInteger("horcrux.testGuest.boots", 1);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration POWER_OFF_TIMEOUT = Duration.ofSeconds(10);

    private static Path root;

    /** One boot's figures, in milliseconds. */
    record Boot(long readyMillis, long answerMillis, long powerOffMillis) {
    }

    @BeforeAll
    static void createRoot() throws IOException {
        root = QemuItSupport.newStateDirectory("guest");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    @Test
    void bootsOnQ35AnswersOnItsConsoleAndPowersOffOnTheAcpiButton() throws Exception {
        bootRepeatedly("q35");
    }

    @Test
    void bootsOnMicrovmAnswersOnItsConsoleAndPowersOffOnTheAcpiButton() throws Exception {
        bootRepeatedly("microvm");
    }

    private void bootRepeatedly(String machine) throws Exception {
        TestGuest guest = TestGuest.locate();
        List<Boot> boots = new ArrayList<>();
        for (int i = 0; i < BOOTS; i++) {
            boots.add(boot(guest, machine, root.resolve(machine + i)));
        }
        System.out.printf(Locale.ROOT, "test guest (%s) on %s, TCG, %d boot(s): ready %s ms, answer %s ms, "
                + "system_powerdown to QEMU exit %s ms%n", guest.versions(), machine, boots.size(),
                spread(boots, Boot::readyMillis), spread(boots, Boot::answerMillis), spread(boots, Boot::powerOffMillis));
    }

    private static Boot boot(TestGuest guest, String machine, Path dir) throws Exception {
        Files.createDirectory(dir, QemuItSupport.OWNER_ONLY);
        Path qmp = dir.resolve("qmp.sock");
        List<String> command = List.of("qemu-system-x86_64",
                "-machine", machine, "-accel", "tcg", "-cpu", "max", "-m", "256",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-kernel", guest.kernel().toString(), "-initrd", guest.initrd().toString(),
                "-append", machine.equals("microvm") ? guest.microvmCmdline() : guest.cmdline(),
                "-serial", "stdio",
                "-qmp", "unix:" + qmp + ",server=on,wait=off");
        long start = System.nanoTime();
        Process qemu = new ProcessBuilder(command).redirectErrorStream(true).start();
        Console console = new Console(qemu.getInputStream(), machine);
        try {
            console.await(line -> line.equals(guest.readyLine()), READY_TIMEOUT, "the readiness line");
            long ready = System.nanoTime();

            console.write("echo \"answer: $((6*7))\"\n", qemu.getOutputStream());
            console.await(line -> line.equals("answer: 42"), ANSWER_TIMEOUT, "the answer to echo $((6*7))");
            long answered = System.nanoTime();

            long pressed;
            try (SocketChannel channel = qmpConnect(qmp)) {
                qmpCommand(channel, "{\"execute\":\"qmp_capabilities\"}");
                pressed = System.nanoTime();
                qmpCommand(channel, "{\"execute\":\"system_powerdown\"}");
                boolean exited = qemu.waitFor(POWER_OFF_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(exited).as("QEMU exits by itself within %s of system_powerdown (the guest powers off); "
                        + "console:%n%s", POWER_OFF_TIMEOUT, console.tail()).isTrue();
            }
            long off = System.nanoTime();
            assertThat(qemu.exitValue()).as("QEMU's exit status; console:%n%s", console.tail()).isZero();
            return new Boot(millis(ready - start), millis(answered - ready), millis(off - pressed));
        } finally {
            if (qemu.isAlive()) {
                qemu.destroyForcibly();
                qemu.waitFor(10, TimeUnit.SECONDS);
            }
            console.join();
            Files.deleteIfExists(qmp);
            Files.deleteIfExists(dir);
        }
    }

    /** What QEMU's serial console (its stdout, with its stderr) printed, read by a thread of its own. */
    private static final class Console {
        private final StringBuilder text = new StringBuilder();
        private final Thread reader;
        private boolean ended;
        private int consumed;

        Console(InputStream in, String machine) {
            reader = new Thread(() -> {
                byte[] buffer = new byte[8192];
                try (in) {
                    for (int n; (n = in.read(buffer)) >= 0; ) {
                        append(new String(buffer, 0, n, StandardCharsets.ISO_8859_1));
                    }
                } catch (IOException e) {
                    append("\n[console read failed: " + e + "]\n");
                } finally {
                    synchronized (this) {
                        ended = true;
                        notifyAll();
                    }
                }
            }, "test-guest-console-" + machine);
            reader.setDaemon(true);
            reader.start();
        }

        private synchronized void append(String s) {
            text.append(s);
            notifyAll();
        }

        /** Waits for a whole line (carriage returns dropped), after the last one awaited, that matches. */
        synchronized void await(Predicate<String> line, Duration timeout, String what) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            int from = consumed;
            while (true) {
                int end;
                while ((end = text.indexOf("\n", from)) >= 0) {
                    boolean match = line.test(text.substring(from, end).replace("\r", ""));
                    from = end + 1;
                    if (match) {
                        consumed = from;
                        return;
                    }
                }
                long left = deadline - System.nanoTime();
                if (ended || left <= 0) {
                    throw new AssertionError((ended ? "QEMU ended before " : "timed out after " + timeout + " waiting for ")
                            + what + "; the console showed:\n" + text);
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }

        void write(String s, OutputStream out) throws IOException {
            out.write(s.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        synchronized String tail() {
            return text.substring(Math.max(0, text.length() - 4000));
        }

        void join() throws InterruptedException {
            reader.join(TimeUnit.SECONDS.toMillis(10));
        }
    }

    private static SocketChannel qmpConnect(Path socket) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                channel.connect(UnixDomainSocketAddress.of(socket));
                readLine(channel);   // the greeting
                return channel;
            } catch (IOException e) {
                channel.close();
                if (System.nanoTime() - deadline > 0) {
                    throw e;
                }
                TimeUnit.MILLISECONDS.sleep(10);
            }
        }
    }

    /** Sends one command and returns its reply, skipping events; fails on an error reply. */
    private static String qmpCommand(SocketChannel channel, String command) throws IOException {
        ByteBuffer out = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.US_ASCII));
        while (out.hasRemaining()) {
            channel.write(out);
        }
        while (true) {
            String line = readLine(channel);
            if (line.startsWith("{\"return\"")) {
                return line;
            }
            assertThat(line).as("QMP reply to %s", command).doesNotStartWith("{\"error\"");
        }
    }

    /** One line from a blocking channel, a byte at a time (the replies are short). */
    private static String readLine(SocketChannel channel) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        StringBuilder line = new StringBuilder();
        while (true) {
            one.clear();
            if (channel.read(one) < 0) {
                throw new IOException("QMP closed after " + line);
            }
            char c = (char) one.get(0);
            if (c == '\n') {
                return line.toString().strip();
            }
            line.append(c);
        }
    }

    private static long millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    private static String spread(List<Boot> boots, ToLongFunction<Boot> figure) {
        List<Long> values = new ArrayList<>(boots.stream().map(figure::applyAsLong).toList());
        Collections.sort(values);
        return boots.size() == 1 ? values.get(0).toString()
                : "min " + values.get(0) + " / median " + values.get(values.size() / 2) + " / max "
                        + values.get(values.size() - 1);
    }
}
