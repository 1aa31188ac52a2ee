package io.horcrux.examples;

import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.SimulatedDriver;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * The tour of Horcrux in one program: create a VM with a disk, start it, pause, resume, stop,
 * list and delete it, printing each step and how long it took.
 */
public final class Quickstart {

    private Quickstart() {
    }

    public static void main(String[] args) {
        try (VmManager vms = VmManager.builder()
                .store(InMemoryVmStore.create())
                .driver(SimulatedDriver.create())
                .build()) {
            vms.subscribe(e -> System.out.printf("  event: %s %s -> %s (%s)%n",
                    e.vmId(), e.previousStatus(), e.newStatus(), e.reason()));

            VmSpec spec = VmSpec.builder()
                    .id("quickstart-1").name("Quickstart VM")
                    .memoryMiB(128).cpus(1)
                    .disk(DiskSpec.qcow2("root", 64L << 20))
                    .label("example", "quickstart")
                    .build();

            step("create", () -> vms.create(spec));
            step("start", () -> vms.start(spec.id()));
            step("pause", () -> vms.pause(spec.id()));
            step("resume", () -> vms.resume(spec.id()));
            step("stop", () -> vms.stop(spec.id(), Duration.ofSeconds(2)));
            step("list", () -> vms.list(VmQuery.all().withLabel("example", "quickstart")).items());
            step("delete", () -> {
                vms.delete(spec.id());
                return "deleted";
            });
        }
    }

    private static void step(String name, Supplier<?> action) {
        long start = System.nanoTime();
        Object result = action.get();
        double millis = (System.nanoTime() - start) / 1e6;
        String shown = result instanceof Vm vm ? vm.id() + " " + vm.status() + " (version " + vm.version() + ")"
                : String.valueOf(result);
        System.out.printf("%-7s %9.3f ms  %s%n", name, millis, shown);
    }
}
