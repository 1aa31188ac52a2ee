package io.horcrux;

import java.time.Duration;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The serial console of one VM, from {@link VmManager#console(String)}: what its guest printed
 * since its last start, and a way to type into it.
 *
 * <pre>{@code
 * VmConsole console = vms.console("web-1");
 * console.await(Pattern.compile("login:"), Duration.ofSeconds(60));
 * console.write("root\n");
 * try (Subscription tail = console.follow(System.out::print)) {
 *     ...
 * }
 * }</pre>
 *
 * <p>The output is bounded by the driver (the QEMU driver keeps the newest
 * {@code consoleLogBytes}, 1 MiB by default, dropping the oldest first), decoded as UTF-8 with
 * invalid bytes replaced; whatever the guest sends, the log stays within its bound. A console of
 * a VM that is not running gives the output of its last run. Thread-safe; a console stays valid
 * across the VM's restarts (each start begins a new output).
 */
public interface VmConsole {

    /** The id of the VM. */
    String vmId();

    /** What the guest printed since its last start, up to the driver's bound; empty if nothing. */
    String output();

    /**
     * The first line printed since the last start that matches {@code pattern} (lines already
     * printed count), waiting up to {@code timeout} for one. An unfinished last line (a prompt
     * such as {@code login: }) counts once the guest has printed nothing for 100 ms, so a line
     * still arriving is never returned cut short.
     *
     * @return the matching line, without its line end
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws ConsoleTimeoutException  if no line matched in time, or at once when the VM stops
     *                                  (or is not running) with no line matching; its message
     *                                  names the VM, the pattern and the last lines seen
     */
    String await(Pattern pattern, Duration timeout);

    /**
     * Types {@code text} on the console, as a keyboard on the serial line would: add {@code "\n"}
     * to end a command.
     *
     * @throws NullPointerException     if {@code text} is null
     * @throws IllegalArgumentException if {@code text} is longer than {@link #MAX_WRITE_BYTES}
     *                                  bytes in UTF-8
     * @throws IllegalVmStateException  if the VM is not running or paused
     * @throws DriverException          if the driver cannot reach the console
     */
    void write(String text);

    /**
     * Calls {@code listener} with each piece of output as it arrives (on a thread of the driver's;
     * keep it short), until the returned subscription is closed or the manager closes.
     *
     * @throws NullPointerException if {@code listener} is null
     */
    Subscription follow(Consumer<String> listener);

    /** The most one {@link #write(String)} may type, in UTF-8 bytes: 64 KiB. */
    int MAX_WRITE_BYTES = 64 * 1024;
}
