package io.horcrux.testkit;

import io.horcrux.DriverException;
import io.horcrux.Subscription;
import io.horcrux.spi.GuestConsole;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The serial console of a {@link SimulatedDriver}'s VM: output the test scripts with
 * {@link SimulatedDriver#print(String, String)}, plus the echo of what is written (as a shell on
 * a serial line echoes what is typed), bounded to {@link #MAX_CHARS} characters, the oldest
 * dropped first. Thread-safe.
 */
final class SimulatedConsole implements GuestConsole {
    /** How much output is kept. */
    static final int MAX_CHARS = 64 * 1024;

    private final String vmId;
    private final StringBuilder output = new StringBuilder();
    private final List<Consumer<String>> followers = new CopyOnWriteArrayList<>();
    private boolean live;
    private long lastPrint = System.nanoTime();

    SimulatedConsole(String vmId) {
        this.vmId = vmId;
    }

    /** A new run begins: earlier output is dropped. */
    synchronized void started() {
        output.setLength(0);
        live = true;
        notifyAll();
    }

    /** The run ended: awaiting ends at once, writing fails. */
    synchronized void ended() {
        live = false;
        notifyAll();
    }

    void print(String text) {
        synchronized (this) {
            output.append(text);
            lastPrint = System.nanoTime();
            if (output.length() > MAX_CHARS) {
                output.delete(0, output.length() - MAX_CHARS);
            }
            notifyAll();
        }
        followers.forEach(follower -> follower.accept(text));
    }

    @Override
    public synchronized String output() {
        return output.toString();
    }

    @Override
    public Optional<String> await(Pattern pattern, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            while (true) {
                long now = System.nanoTime();
                boolean quiet = !live || now - lastPrint >= QUIET.toNanos();
                Optional<String> line = GuestConsole.firstMatchingLine(output.toString(), pattern, quiet);
                long left = deadline - now;
                if (line.isPresent() || !live || left <= 0) {
                    return line;
                }
                wait(Math.max(1, Math.min(left, QUIET.toNanos()) / 1_000_000));
            }
        }
    }

    @Override
    public synchronized boolean isLive() {
        return live;
    }

    @Override
    public void write(String text) {
        if (!isLive()) {
            throw new DriverException("VM '" + vmId + "' is not running; its console cannot be written");
        }
        print(text);
    }

    @Override
    public Subscription follow(Consumer<String> listener) {
        followers.add(listener);
        return () -> followers.remove(listener);
    }
}
