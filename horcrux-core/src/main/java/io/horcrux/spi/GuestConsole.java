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

    /** What the guest printed since its last start, up to the driver's bound. */
    String output();

    /**
     * The first line of the output (the unfinished last one included) that matches, waiting up to
     * {@code timeout}; empty on timeout, and at once when the console is not (or no longer) live.
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
