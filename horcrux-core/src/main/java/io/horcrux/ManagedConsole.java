package io.horcrux;

import io.horcrux.model.Vm;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.GuestConsole;
import io.horcrux.spi.VmDriver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The {@link VmConsole} a manager hands out: the driver's console of the VM, asked for anew on
 * every call (so it follows the VM across restarts), behind the manager's checks of arguments
 * and status.
 */
final class ManagedConsole implements VmConsole {
    private static final int LAST_LINES = 10;

    private final String vmId;
    private final VmDriver driver;
    private final Function<String, Optional<Vm>> find;

    ManagedConsole(String vmId, VmDriver driver, Function<String, Optional<Vm>> find) {
        this.vmId = vmId;
        this.driver = driver;
        this.find = find;
    }

    @Override
    public String vmId() {
        return vmId;
    }

    @Override
    public String output() {
        return driver.console(vmId).map(GuestConsole::output).orElse("");
    }

    @Override
    public String await(Pattern pattern, Duration timeout) {
        Objects.requireNonNull(pattern, "pattern");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative, was " + timeout);
        }
        Optional<GuestConsole> console = driver.console(vmId);
        if (console.isEmpty()) {
            throw new ConsoleTimeoutException(vmId, pattern, "(the driver has no console for it)", "");
        }
        Optional<String> line;
        try {
            line = console.get().await(pattern, timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConsoleTimeoutException(vmId, pattern, "(interrupted)", lastLines(console.get().output()));
        }
        if (line.isPresent()) {
            return line.get();
        }
        String why = console.get().isLive() ? "within " + timeout.toMillis() + " ms"
                : "before the VM stopped (it is " + find.apply(vmId).map(Vm::status).orElse(VmStatus.STOPPED) + ")";
        throw new ConsoleTimeoutException(vmId, pattern, why, lastLines(console.get().output()));
    }

    @Override
    public void write(String text) {
        Objects.requireNonNull(text, "text");
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_WRITE_BYTES) {
            throw new IllegalArgumentException("text must be at most " + MAX_WRITE_BYTES + " bytes in UTF-8, was " + bytes);
        }
        VmStatus status = find.apply(vmId).map(Vm::status).orElseThrow(() -> new VmNotFoundException(vmId));
        Optional<GuestConsole> console = driver.console(vmId).filter(GuestConsole::isLive);
        if (status != VmStatus.RUNNING && status != VmStatus.PAUSED || console.isEmpty()) {
            throw new IllegalVmStateException(vmId, status, "write to the console of");
        }
        console.get().write(text);
    }

    @Override
    public Subscription follow(Consumer<String> listener) {
        Objects.requireNonNull(listener, "listener");
        return driver.console(vmId).map(console -> console.follow(listener)).orElse(() -> { });
    }

    /** The last lines of the output, for an error message. */
    static String lastLines(String output) {
        List<String> lines = output.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - LAST_LINES), lines.size()));
    }
}
