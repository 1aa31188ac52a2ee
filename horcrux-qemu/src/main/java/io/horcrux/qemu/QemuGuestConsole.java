package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.Subscription;
import io.horcrux.spi.GuestConsole;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * One VM's console as the driver hands it to the manager: the {@link ConsoleLog} of its current
 * or last run and, while it runs, the {@link SerialConsole} that types into it.
 */
final class QemuGuestConsole implements GuestConsole {
    private final String vmId;
    private final ConsoleLog log;
    private final SerialConsole serial; // null: the VM does not run

    QemuGuestConsole(String vmId, ConsoleLog log, SerialConsole serial) {
        this.vmId = vmId;
        this.log = log;
        this.serial = serial;
    }

    @Override
    public String output() {
        return log.text();
    }

    @Override
    public Optional<String> await(Pattern pattern, Duration timeout) throws InterruptedException {
        return log.await(pattern, timeout);
    }

    @Override
    public boolean isLive() {
        return serial != null && serial.isOpen();
    }

    @Override
    public void write(String text) {
        if (!isLive()) {
            throw new DriverException("VM '" + vmId + "' is not running; its console cannot be written");
        }
        serial.write(text);
    }

    @Override
    public Subscription follow(Consumer<String> listener) {
        return log.follow(listener);
    }
}
