package io.horcrux.reliability;

import io.horcrux.HorcruxException;
import io.horcrux.VmManager;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.postgres.PostgresVmStore;
import io.horcrux.qemu.Accelerator;
import io.horcrux.qemu.MachineType;
import io.horcrux.qemu.QemuDriver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Collectors;

/**
 * One host of {@link SeveralHostsIT}: a {@link VmManager} on a PostgreSQL store shared by hosts
 * and a QEMU driver with a state directory of its own, doing what its stdin says. Arguments:
 * JDBC URL, user, password, schema, host, state directory, lease TTL, renewal and grace in ms.
 * An optional tenth argument sets the driver's internal fault hook {@code horcrux.internal.freezeAt}
 * ({@code <step>:<vm id>}: the JVM stops itself with SIGSTOP at that step of that VM's start).
 * Commands, one a line: {@code create <id> [restart]}, {@code start <id>}, {@code stop <id>},
 * {@code move <id> <host>}, {@code get <id>}, {@code list}. Each answers {@code OK <command>
 * [result]} or {@code ERR <command> <message>}; events come as {@code EVENT <id> <from> <to>
 * <epoch millis of the event> <reason>}. {@code READY} once the manager is built. At the end of stdin it closes the manager
 * (stopping its VMs) and exits.
 */
public final class HostChild {
    private HostChild() {
    }

    /** A VM without disks or kernel: its QEMU runs the firmware and waits, which is all the test needs. */
    static VmSpec spec(String id, boolean restart) {
        return VmSpec.builder().id(id).memoryMiB(48).cpus(1).restartOnTakeover(restart).build();
    }

    public static void main(String[] args) throws IOException {
        PrintStream out = System.out;
        if (args.length > 9) {
            System.setProperty(io.horcrux.internal.FaultPoint.FREEZE_PROPERTY, args[9]);
        }
        PostgresVmStore store = PostgresVmStore.builder().jdbcUrl(args[0]).user(args[1]).password(args[2]).schema(args[3])
                .sharedByHosts(true).poolSize(4).build();
        QemuDriver driver = QemuDriver.builder().stateDirectory(Path.of(args[5])).accelerator(Accelerator.TCG)
                .machine(MachineType.MICROVM).qmpTimeout(Duration.ofSeconds(30)).build();
        try (VmManager vms = VmManager.builder().store(store).driver(driver).host(args[4])
                .leaseTtl(Duration.ofMillis(Long.parseLong(args[6])))
                .leaseRenewal(Duration.ofMillis(Long.parseLong(args[7])))
                .takeoverGrace(Duration.ofMillis(Long.parseLong(args[8]))).build()) {
            vms.subscribe(e -> say(out, "EVENT " + e.vmId() + " " + e.previousStatus() + " " + e.newStatus() + " "
                    + e.time().toEpochMilli() + " " + e.reason()));
            say(out, "READY");
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                String[] f = line.strip().split(" ");
                try {
                    String result = switch (f[0]) {
                        case "create" -> describe(vms.create(spec(f[1], f.length > 2 && f[2].equals("restart"))));
                        case "start" -> describe(vms.start(f[1]));
                        case "stop" -> describe(vms.stop(f[1], Duration.ZERO));
                        case "move" -> describe(vms.moveTo(f[1], f[2]));
                        case "get" -> describe(vms.get(f[1]));
                        case "list" -> vms.withStream(VmQuery.all(),
                                s -> s.map(HostChild::describe).collect(Collectors.joining(",")));
                        default -> throw new IllegalArgumentException("unknown command " + f[0]);
                    };
                    say(out, "OK " + line.strip() + " " + result);
                } catch (HorcruxException | IllegalArgumentException e) {
                    say(out, "ERR " + line.strip() + " " + String.valueOf(e.getMessage()).replace('\n', ' '));
                }
            }
        }
    }

    /** {@code id:owner:status}. */
    static String describe(Vm vm) {
        return vm.id() + ":" + vm.owner() + ":" + vm.status();
    }

    private static synchronized void say(PrintStream out, String line) {
        out.println(line);
        out.flush();
    }
}
