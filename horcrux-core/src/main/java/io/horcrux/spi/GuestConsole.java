package io.horcrux.spi;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * A driver's access to one VM's serial console, from {@link VmDriver#console(String)}; the
 * manager builds {@code io.horcrux.VmConsole} on it and checks the VM's status.
 *
 * @implSpec Thread-safe. The output is bounded by the driver, whatever the guest sends. After the
 * VM stops, {@link #output()} still gives what its last run printed and {@link #isLive()} is
 * false; a new start begins a new output.
 */
public interface GuestConsole {
    /** How long the output must rest before its unfinished last line counts as a line (a prompt). */
    java.time.Duration QUIET = java.time.Duration.ofMillis(100);

    /**
     * The first line of {@code output} that {@code pattern} finds, without its line end
     * ({@code \n} or {@code \r\n}); the unfinished last line only when {@code quiet} (the output
     * has rested for {@link #QUIET}). For implementations of {@link #await}.
     */
    static Optional<String> firstMatchingLine(String output, Pattern pattern, boolean quiet) {
        int start = 0;
        while (start < output.length()) {
            int end = output.indexOf('\n', start);
            if (end < 0 && !quiet) {
                return Optional.empty();
            }
            String line = output.substring(start, end < 0 ? output.length() : end);
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            if (pattern.matcher(line).find()) {
                return Optional.of(line);
            }
            if (end < 0) {
                return Optional.empty();
            }
            start = end + 1;
        }
        return Optional.empty();
    }

    /** What the guest printed since its last start, up to the driver's bound. */
    String output();

    /**
     * The first line of the output that matches, waiting up to {@code timeout}; empty on timeout,
     * and at once when the console is not (or no longer) live. The unfinished last line counts
     * only once the guest has printed nothing for {@link #QUIET} (it waits at a prompt), so a line
     * still arriving is never returned cut short. {@link #firstMatchingLine} implements the rule.
     */
    Optional<String> await(Pattern pattern, Duration timeout) throws InterruptedException;

    /** Whether the console is connected to a running guest. */
    boolean isLive();

    /**
     * Types {@code text}.
     *
     * @throws IllegalArgumentException  if it is longer than the driver allows
     * @throws io.horcrux.DriverException if the console is not live or cannot be written
     */
    void write(String text);

    /** Calls {@code listener} with each new piece of output until the returned handle is closed. */
    io.horcrux.Subscription follow(Consumer<String> listener);
}
