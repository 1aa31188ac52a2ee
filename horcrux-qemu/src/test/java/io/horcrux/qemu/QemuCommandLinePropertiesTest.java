package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.InvalidVmSpecException;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.VmSpec;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * Thousands of hostile specs and state directories against the QEMU command line: one input at a
 * time made hostile, whatever the id, name, labels, disk and NIC names, MAC, boot paths or the
 * state directory's name hold (commas,
 * {@code =}, newlines, NUL, {@code ..}, {@code /}, shell metacharacters, very long strings), a
 * spec is either refused with the documented exception, or its command line has exactly the
 * options, and in every option list exactly the keys, of a harmless spec of the same shape, and
 * every file QEMU writes or opens for the VM lies inside the VM's directory.
 */
class QemuCommandLinePropertiesTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    /** Options without a value; every other option takes the next argument as its value. */
    private static final Set<String> FLAGS = Set.of("-nodefaults", "-no-user-config", "-daemonize");
    /** Options whose value QEMU splits at single commas into key=value parts. */
    private static final Set<String> OPTION_LISTS = Set.of("-name", "-machine", "-accel", "-blockdev", "-device",
            "-netdev", "-chardev", "-mon", "-sandbox", "-boot");

    /** The input the property makes hostile; every other one keeps a harmless value. */
    enum Field {
        ID, NAME, LABEL_KEY, LABEL_VALUE, DISK_NAME, NIC_NAME, MAC, KERNEL, INITRD, CMDLINE, STATE_DIRECTORY
    }

    @Provide
    Arbitrary<String> hostile() {
        return Arbitraries.oneOf(
                Arbitraries.strings().all().ofMaxLength(300),
                Arbitraries.strings().withChars("abz09-_,=\n\u0000/.$;`'\" :").ofMaxLength(70),
                Arbitraries.strings().withChars("abc019-").ofMinLength(1).ofMaxLength(20),
                Arbitraries.strings().withChars("/abc,=. -").ofMinLength(1).ofMaxLength(40).map(p -> "/" + p),
                Arbitraries.of("..", "../x", "a,b", "a,,b", "a=b", ",file=/etc/shadow", "x,readonly=off", "$(id)",
                        "`id`", "a;b", "a|b", "x\ny", "", " ", "-daemonize", "--", "a".repeat(63), "a".repeat(64),
                        "a".repeat(4096), "/etc/passwd", "/s/../../etc/passwd", "/k,initrd=/x", "/k,,x",
                        "console=ttyS0 -daemonize -runas root", "02:00:00:00:00:01", "52:54:00:12:34:56,model=e1000",
                        "03:00:00:00:00:01", "'; DROP TABLE vms; --", "a,b=c", "x,,y", "dir with spaces"));
    }

    @Property(tries = 5000)
    void noSpecValueInjectsAnOptionOrEscapesTheVmDirectory(@ForAll Field field, @ForAll("hostile") String value) {
        VmSpec spec;
        try {
            VmSpec.Builder b = VmSpec.builder()
                    .id(field == Field.ID ? value : "vm-1")
                    .name(field == Field.NAME ? value : "a name")
                    .label(field == Field.LABEL_KEY ? value : "k", field == Field.LABEL_VALUE ? value : "v")
                    .disk(DiskSpec.qcow2(field == Field.DISK_NAME ? value : "root", 16L << 20))
                    .disk(DiskSpec.raw("data", 1L << 20).asReadOnly())
                    .nic(NicSpec.user(field == Field.NIC_NAME ? value : "eth0")
                            .withMac(field == Field.MAC ? value : "52:54:00:00:00:01"));
            if (field == Field.KERNEL || field == Field.INITRD || field == Field.CMDLINE) {
                b.boot(BootSpec.kernel(field == Field.KERNEL ? value : "/boot/k",
                        field == Field.INITRD ? value : "/boot/i", field == Field.CMDLINE ? value : "console=ttyS0"));
            }
            spec = b.build();
        } catch (InvalidVmSpecException refused) {
            Statistics.label("outcome").collect("spec refused");
            return;
        }
        Path vmDirectory;
        try {
            vmDirectory = Path.of("/s", field == Field.STATE_DIRECTORY ? value : "state").resolve(spec.id());
        } catch (InvalidPathException refused) {
            Statistics.label("outcome").collect("path refused");
            return;
        }
        Path socket = vmDirectory.resolve("qmp.sock");
        for (MachineType machine : MachineType.values()) {
            List<String> args;
            try {
                args = QemuCommandLine.of(QEMU, Accelerator.TCG, machine, true).runningAs("nobody")
                        .arguments(spec, vmDirectory, socket);
            } catch (IllegalArgumentException refused) {
                Statistics.label("outcome").collect("path refused");
                return;
            }
            Path harmlessDirectory = Path.of("/s/d/a");
            List<String> reference = QemuCommandLine.of(QEMU, Accelerator.TCG, machine, true).runningAs("nobody")
                    .arguments(harmlessTwin(spec), harmlessDirectory, harmlessDirectory.resolve("qmp.sock"));
            List<String[]> options = options(args);
            List<String[]> expected = options(reference);
            assertThat(options.stream().map(o -> o[0]).toList()).as("options of %s", args)
                    .isEqualTo(expected.stream().map(o -> o[0]).toList());
            for (int i = 0; i < options.size(); i++) {
                String option = options.get(i)[0];
                String optionValue = options.get(i)[1];
                assertThat(optionValue).as("value of %s", option).doesNotContainPattern("\\p{Cntrl}");
                if (OPTION_LISTS.contains(option)) {
                    assertThat(keys(optionValue)).as("keys of %s %s", option, optionValue)
                            .isEqualTo(keys(expected.get(i)[1]));
                    for (String part : parts(optionValue)) {
                        if (part.startsWith("filename=")) {
                            assertInside(vmDirectory, Path.of(part.substring(part.indexOf('=') + 1)));
                        }
                        if (part.startsWith("path=")) {
                            // A socket: in the VM directory, or in the state directory's short socket
                            // directory when its path would not fit in sun_path.
                            Path socketPath = Path.of(part.substring(part.indexOf('=') + 1));
                            assertInside(socketPath.startsWith("/tmp/") ? VmFiles.shortSocketDirectory(vmDirectory.getParent())
                                    : vmDirectory, socketPath);
                        }
                    }
                }
                if (option.equals("-pidfile")) {
                    assertInside(vmDirectory, Path.of(optionValue));
                }
                if (option.equals("-name")) {
                    assertThat(parts(optionValue).get(0)).isEqualTo("guest=" + spec.id());
                }
                if (option.equals("-runas")) {
                    assertThat(optionValue).isEqualTo("nobody");
                }
            }
        }
        Statistics.label("outcome").collect("accepted and safe");
    }

    private static void assertInside(Path vmDirectory, Path file) {
        assertThat(file.isAbsolute()).as("%s is absolute", file).isTrue();
        assertThat(file.normalize()).as("%s is normalised", file).isEqualTo(file);
        assertThat(file.getParent()).as("%s is directly in the VM directory", file).isEqualTo(vmDirectory);
    }

    /** The same shape (disks, NICs, boot) with the tamest values. */
    private static VmSpec harmlessTwin(VmSpec spec) {
        VmSpec.Builder b = VmSpec.builder().id("a").memoryMiB(spec.memoryMiB()).cpus(spec.cpus());
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskSpec d = spec.disks().get(i);
            b.disk(new DiskSpec("d" + i, d.format(), d.sizeBytes(), d.readOnly()));
        }
        for (int i = 0; i < spec.nics().size(); i++) {
            b.nic(NicSpec.user("n" + i).withMac(String.format("52:54:00:00:00:%02x", i)));
        }
        if (spec.boot().kernel() != null) {
            b.boot(BootSpec.kernel("/k", spec.boot().initrd() == null ? null : "/i",
                    spec.boot().cmdline() == null ? null : "c"));
        } else {
            b.boot(spec.boot());
        }
        return b.build();
    }

    /** (option, value) pairs; a flag's value is empty. */
    private static List<String[]> options(List<String> args) {
        List<String[]> pairs = new ArrayList<>();
        for (int i = 1; i < args.size(); i++) {
            String option = args.get(i);
            assertThat(option).as("argument %d of %s is an option", i, args).startsWith("-");
            if (FLAGS.contains(option)) {
                pairs.add(new String[] {option, ""});
            } else {
                pairs.add(new String[] {option, args.get(++i)});
            }
        }
        return pairs;
    }

    /** The parts of a QEMU option list: split at single commas, ",," being an escaped comma. */
    static List<String> parts(String value) {
        List<String> parts = new ArrayList<>();
        StringBuilder part = new StringBuilder();
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == ',' && i + 1 < value.length() && value.charAt(i + 1) == ',') {
                part.append(',');
                i++;
            } else if (c == ',') {
                parts.add(part.toString());
                part.setLength(0);
            } else {
                part.append(c);
            }
        }
        parts.add(part.toString());
        return parts;
    }

    private static List<String> keys(String value) {
        return parts(value).stream().map(p -> p.contains("=") ? p.substring(0, p.indexOf('=')) : "(" + p + ")")
                .toList();
    }
}
