package io.horcrux.examples;

import io.horcrux.DriverException;
import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.store.SqliteVmStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * The tour of Horcrux in one program, on the real parts: an SQLite inventory and QEMU. It
 * creates a VM with a qcow2 disk, starts it, reads its status over QMP, pauses, resumes,
 * stops, lists and deletes it, printing each step and how long it took.
 *
 * <p>Data goes to {@code target/horcrux-quickstart} (or the directory given as the first
 * argument): {@code horcrux.db} is the inventory, {@code vms/} holds each VM's disks and sockets.
 */
public final class Quickstart {
    private static final String ID = "quickstart-1";

    private Quickstart() {
    }

    public static void main(String[] args) {
        Path data = Path.of(args.length > 0 ? args[0] : "target/horcrux-quickstart").toAbsolutePath();
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
            vms.subscribe(e -> System.out.printf("          event: %s %s -> %s (%s)%n",
                    e.vmId(), e.previousStatus(), e.newStatus(), e.reason()));
            removeLeftover(vms);

            VmSpec spec = VmSpec.builder()
                    .id(ID).name("Quickstart VM")
                    .memoryMiB(128).cpus(1)
                    .disk(DiskSpec.qcow2("root", 256L << 20))
                    .nic(NicSpec.user("eth0"))
                    .label("example", "quickstart")
                    .build();

            step("create", () -> vms.create(spec));
            step("start", () -> vms.start(ID));
            step("status", () -> "QMP query-status says " + driver.status(ID));
            step("pause", () -> vms.pause(ID));
            step("resume", () -> vms.resume(ID));
            // The VM boots no OS, so it ignores the ACPI power button: after the grace the
            // driver forces it off.
            step("stop", () -> vms.stop(ID, Duration.ofSeconds(1)));
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
