package io.horcrux.testkit;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

/**
 * The small Linux guest that {@code scripts/build-test-guest} assembles from Debian's packages (a
 * kernel and a busybox initramfs whose {@code /init} prints {@link #readyLine()} on the serial
 * console, gives a shell there, and powers off on the ACPI button), as its
 * {@code guest.properties} describes it. For tests and benchmarks that boot a real guest.
 *
 * <p>{@link #locate()} looks in the directory named by the system property
 * {@code horcrux.testGuest}, else the environment variable {@code HORCRUX_GUEST_DIR}, else
 * {@code ~/.cache/horcrux/test-guest}, the script's own default.
 *
 * @param kernel         the kernel image, for {@code -kernel}
 * @param initrd         the initramfs, for {@code -initrd}
 * @param cmdline        the kernel command line for q35
 * @param microvmCmdline the kernel command line for microvm
 * @param readyLine      the line the guest prints once its shell reads the console
 * @param versions       the Debian packages it was built from, for reports
 */
public record TestGuest(Path kernel, Path initrd, String cmdline, String microvmCmdline, String readyLine,
                        String versions) {
    /** The command that builds the guest. */
    public static final String BUILD_COMMAND = "scripts/build-test-guest";

    /**
     * The guest as built on this machine.
     *
     * @throws AssertionError       if it is not built, or its files are missing (the message names
     *                              {@link #BUILD_COMMAND}), so a test that needs it fails rather than skips
     * @throws UncheckedIOException if {@code guest.properties} cannot be read
     */
    public static TestGuest locate() {
        String dir = System.getProperty("horcrux.testGuest");
        if (dir == null || dir.isBlank()) {
            dir = System.getenv("HORCRUX_GUEST_DIR");
        }
        Path base = dir == null || dir.isBlank()
                ? Path.of(System.getProperty("user.home"), ".cache", "horcrux", "test-guest")
                : Path.of(dir);
        Path file = base.resolve("guest.properties");
        if (!Files.isRegularFile(file)) {
            throw new AssertionError("the test guest is not built (no " + file + "): run " + BUILD_COMMAND
                    + " (scripts/setup-debian runs it too), or point -Dhorcrux.testGuest at its directory");
        }
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        TestGuest guest = new TestGuest(Path.of(required(p, file, "kernel")), Path.of(required(p, file, "initrd")),
                required(p, file, "cmdline"), required(p, file, "microvmCmdline"), required(p, file, "readyLine"),
                p.getProperty("kernelPackage") + " " + p.getProperty("kernelVersion") + ", busybox-static "
                        + p.getProperty("busyboxVersion"));
        for (Path f : List.of(guest.kernel, guest.initrd)) {
            if (!Files.isRegularFile(f)) {
                throw new AssertionError(file + " names " + f + ", which is missing: run " + BUILD_COMMAND);
            }
        }
        return guest;
    }

    private static String required(Properties p, Path file, String key) {
        String value = p.getProperty(key);
        if (value == null || value.isBlank()) {
            throw new AssertionError(file + " has no " + key + ": run " + BUILD_COMMAND + " --force");
        }
        return value;
    }
}
