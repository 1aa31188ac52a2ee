package io.horcrux.examples;

import io.horcrux.DriverException;
import io.horcrux.VmManager;
import io.horcrux.VmConsole;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.store.SqliteVmStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * The tour of Horcrux in one program, on the real parts: an SQLite inventory, QEMU and a Linux
 * guest. It creates a VM that boots the test guest ({@code scripts/build-test-guest} builds it
 * from Debian's packages; {@code scripts/setup-debian} runs that), starts it, waits for the
 * guest's readiness line on its serial console, runs a command in the guest and prints its
 * answer, pauses and resumes it, stops it gracefully (the guest powers itself off), lists and
 * deletes it, printing each step and how long it took.
 *
 * <p>Data goes to {@code target/horcrux-quickstart} (or the directory given as the first
 * argument): {@code horcrux.db} is the inventory, {@code vms/} holds each VM's disks and sockets.
 */
public final class Quickstart {
    private static final String ID = "quickstart-1";

    private Quickstart() {
    }

    public static void main(String[] args) throws IOException {
        Path data = Path.of(args.length > 0 ? args[0] : "target/horcrux-quickstart").toAbsolutePath();
        Properties guest = testGuest();
        QemuDriver driver;
        try {
            driver = QemuDriver.builder().stateDirectory(data.resolve("vms")).build();
        } catch (DriverException e) {
            System.err.println("Cannot run QEMU: " + e.getMessage());
            System.err.println("On Debian or Ubuntu: sudo apt-get install qemu-system-x86 qemu-utils"
                    + " (or ./scripts/setup-debian)");
            System.exit(1);
            return;
        }
        System.out.printf("inventory %s, VMs under %s%n", data.resolve("horcrux.db"), driver.stateDirectory());
        System.out.printf("accelerator %s, CPU model %s; why: %s%n", driver.accelerator(), driver.cpuModel(),
                driver.acceleratorChoice());

        try (VmManager vms = VmManager.builder()
                .store(SqliteVmStore.open(data.resolve("horcrux.db")))
                .driver(driver)
                .build()) {
            vms.subscribe(e -> System.out.printf("          event: %s %s (%s)%n", e.vmId(),
                    e.isStatusChange() ? e.previousStatus() + " -> " + e.newStatus() : e.kind(), e.reason()));
            removeLeftover(vms);

            VmSpec spec = VmSpec.builder()
                    .id(ID).name("Quickstart VM")
                    .memoryMiB(256).cpus(1)
                    .disk(DiskSpec.qcow2("root", 256L << 20))
                    .nic(NicSpec.user("eth0"))
                    .boot(BootSpec.kernel(guest.getProperty("kernel"), guest.getProperty("initrd"),
                            guest.getProperty("cmdline")))
                    .label("example", "quickstart")
                    .build();
            Pattern ready = Pattern.compile(Pattern.quote(guest.getProperty("readyLine")));

            step("create", () -> vms.create(spec));
            step("start", () -> vms.start(ID));
            VmConsole console = vms.console(ID);
            step("boot", () -> "the guest says: " + console.await(ready, Duration.ofSeconds(120)));
            step("run", () -> {
                console.write("uname -sr; echo \"answer: $((6*7))\"\n");
                return "uname says: " + console.await(Pattern.compile("^Linux "), Duration.ofSeconds(30))
                        + "; the shell says: " + console.await(Pattern.compile("^answer: "), Duration.ofSeconds(30));
            });
            step("pause", () -> vms.pause(ID));
            step("resume", () -> vms.resume(ID));
            // The guest honours the ACPI power button: it powers itself off well inside the grace.
            step("stop", () -> vms.stop(ID, Duration.ofSeconds(60)));
            step("list", () -> {
                List<Vm> listed = vms.list(VmQuery.all().withLabel("example", "quickstart")).items();
                return listed.stream().map(vm -> vm.id() + " " + vm.status()).toList();
            });
            step("delete", () -> {
                vms.delete(ID);
                return ID + " and its disk are gone";
            });
        }
    }

    /**
     * What {@code scripts/build-test-guest} wrote: where the kernel and initramfs are, their
     * command line and readiness line. Found through {@code -Dhorcrux.testGuest}, then
     * {@code HORCRUX_GUEST_DIR}, then {@code ~/.cache/horcrux/test-guest}.
     */
    private static Properties testGuest() throws IOException {
        String dir = System.getProperty("horcrux.testGuest", System.getenv("HORCRUX_GUEST_DIR"));
        Path base = dir == null || dir.isBlank()
                ? Path.of(System.getProperty("user.home"), ".cache", "horcrux", "test-guest") : Path.of(dir);
        Path file = base.resolve("guest.properties");
        if (!Files.isRegularFile(file)) {
            System.err.println("The test guest is not built (no " + file + "). Build it with:");
            System.err.println("    ./scripts/build-test-guest      (./scripts/setup-debian runs it too)");
            System.exit(1);
        }
        Properties guest = new Properties();
        try (var in = Files.newBufferedReader(file)) {
            guest.load(in);
        }
        return guest;
    }

    /** A run that was interrupted may have left its VM behind; start from a clean slate. */
    private static void removeLeftover(VmManager vms) {
        vms.find(ID).ifPresent(vm -> {
            if (vm.status().isActive()) {
                vms.stop(ID, Duration.ZERO);
            }
            vms.delete(ID);
            System.out.println("removed " + ID + " left by an earlier run");
        });
    }

    private static void step(String name, Supplier<?> action) {
        long start = System.nanoTime();
        Object result = action.get();
        double millis = (System.nanoTime() - start) / 1e6;
        String shown = result instanceof Vm vm ? vm.id() + " " + vm.status() + " (version " + vm.version() + ")"
                : String.valueOf(result);
        System.out.printf("%-7s %9.1f ms  %s%n", name, millis, shown);
    }
}
