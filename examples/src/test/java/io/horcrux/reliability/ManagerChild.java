package io.horcrux.reliability;

import io.horcrux.HorcruxException;
import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.MachineType;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.store.SqliteVmStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The process that {@link ManagerCrashIT} kills: a {@link VmManager} on SQLite and real QEMU
 * doing random lifecycle work forever. Arguments: data directory, round, seed. It prints, one
 * line each and flushed:
 * <ul>
 *   <li>{@code READY} once the manager is built (and has reattached),</li>
 *   <li>{@code BEGIN <op> <id>} before a call and {@code ACK <op> <id>} after it returned,
 *       where op is create, start, stop, pause, resume or delete, and for a batch create
 *       {@code BEGIN batch <id1,id2,id3>} / {@code ACK batch <ids>},</li>
 *   <li>{@code FAIL <op> <id> <message>} when the call threw.</li>
 * </ul>
 * At most {@link #MAX_ACTIVE} VMs run at once. It exits when its stdin closes.
 */
public final class ManagerChild {
    static final int MAX_ACTIVE = 3;
    static final int BATCH = 3;

    private ManagerChild() {
    }

    static SqliteVmStore store(Path data) {
        return SqliteVmStore.open(data.resolve("horcrux.db"));
    }

    static QemuDriver driver(Path data) {
        return driverBuilder(data).build();
    }

    static QemuDriver.Builder driverBuilder(Path data) {
        return QemuDriver.builder().stateDirectory(data.resolve("vms")).accelerator(Accelerator.TCG)
                .machine(MachineType.MICROVM).qmpTimeout(Duration.ofSeconds(30));
    }

    static VmSpec spec(String id) {
        return VmSpec.builder().id(id).memoryMiB(64).cpus(1).disk(DiskSpec.qcow2("root", 16L << 20)).build();
    }

    public static void main(String[] args) {
        Path data = Path.of(args[0]);
        String round = args[1];
        Random random = new Random(Long.parseLong(args[2]));
        PrintStream out = System.out;
        Thread orphanGuard = new Thread(() -> {
            try {
                while (System.in.read() != -1) {
                    // the parent holds our stdin open while it lives
                }
            } catch (IOException ignored) {
                // treated as the end of input
            }
            Runtime.getRuntime().halt(3);
        }, "orphan-guard");
        orphanGuard.setDaemon(true);
        orphanGuard.start();

        try (VmManager vms = VmManager.builder().store(store(data)).driver(driver(data)).build()) {
            say(out, "READY");
            int next = 0;
            while (true) {
                List<Vm> all;
                try (Stream<Vm> stream = vms.stream(VmQuery.all())) {
                    all = stream.toList();
                }
                long active = all.stream().filter(vm -> vm.status().isActive()).count();
                if (all.size() < 3 || random.nextInt(100) < 15) {
                    if (random.nextBoolean()) {
                        String id = "r" + round + "-" + next++;
                        call(out, "create", id, () -> vms.create(spec(id)));
                    } else {
                        List<VmSpec> specs = new ArrayList<>();
                        for (int i = 0; i < BATCH; i++) {
                            specs.add(spec("r" + round + "-" + next++));
                        }
                        String ids = specs.stream().map(VmSpec::id).collect(Collectors.joining(","));
                        call(out, "batch", ids, () -> vms.createAll(specs));
                    }
                    continue;
                }
                Vm vm = all.get(random.nextInt(all.size()));
                String id = vm.id();
                VmStatus status = vm.status();
                if (status == VmStatus.STOPPED || status == VmStatus.CRASHED) {
                    if (active < MAX_ACTIVE && random.nextInt(100) < 70) {
                        call(out, "start", id, () -> vms.start(id));
                    } else if (all.size() > 6) {
                        call(out, "delete", id, () -> vms.delete(id));
                    }
                } else if (status == VmStatus.RUNNING) {
                    if (random.nextInt(100) < 30) {
                        call(out, "pause", id, () -> vms.pause(id));
                    } else {
                        Duration grace = random.nextBoolean() ? Duration.ZERO : Duration.ofMillis(100);
                        call(out, "stop", id, () -> vms.stop(id, grace));
                    }
                } else if (status == VmStatus.PAUSED) {
                    if (random.nextBoolean()) {
                        call(out, "resume", id, () -> vms.resume(id));
                    } else {
                        call(out, "stop", id, () -> vms.stop(id, Duration.ZERO));
                    }
                }
            }
        }
    }

    private static void call(PrintStream out, String op, String id, Runnable action) {
        say(out, "BEGIN " + op + " " + id);
        try {
            action.run();
            say(out, "ACK " + op + " " + id);
        } catch (HorcruxException e) {
            say(out, "FAIL " + op + " " + id + " " + String.valueOf(e.getMessage()).replace('\n', ' '));
        }
    }

    private static void say(PrintStream out, String line) {
        out.println(line);
        out.flush();
    }
}
