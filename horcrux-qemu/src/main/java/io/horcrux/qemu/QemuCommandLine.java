package io.horcrux.qemu;

import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicMode;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.VmSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * Builds the argument list that starts one VM under {@code qemu-system-x86_64}: never a shell
 * string. For a spec it produces, in this order: {@code -name guest=<id>}, {@code -uuid} (derived
 * from the id, stable across restarts), {@code -machine}, {@code -accel}, {@code -cpu}
 * (the {@link #withCpuModel(String) model given}; by default {@code host} under KVM and
 * {@code max} under TCG), {@code -m}, {@code -smp},
 * {@code -nodefaults -no-user-config -display none}, a {@code pvpanic} device and
 * {@code -action panic=} ({@link #withPanicAction}), {@code -sandbox} (when supported),
 * {@code -runas} (when {@link #runningAs(String) a user is set}), the
 * boot settings, each disk as a {@code file} and a format {@code -blockdev} (the format always
 * given, never probed) plus a virtio block {@code -device} (a CD-ROM: its ISO, read-only, as a
 * {@code scsi-cd} on one virtio-scsi controller), each NIC as a {@code -netdev} (user-mode with a
 * {@code hostfwd} per port forward, or {@code tap} on the NIC's host device with no scripts) plus
 * a virtio net {@code -device} with the spec's MAC, the cloud-init seed (when the spec has one) as
 * a read-only raw virtio block device, the first serial port on a Unix socket for the driver's console, the QMP monitor on a Unix
 * socket, the operator's QMP monitor on a second one when asked for, {@code -pidfile} and
 * {@code -daemonize}.
 *
 * <p>Every path that reaches an option QEMU parses as a comma-separated list has its commas
 * doubled, so no value can add an option. Paths must be absolute, normalised and free of
 * control characters; VM ids and disk and NIC names are already restricted by {@link VmSpec}.
 *
 * <p>Immutable and thread-safe.
 */
final class QemuCommandLine {
    /** The {@code -sandbox} value: seccomp on, obsolete and resource-control system calls denied. */
    static final String SANDBOX = "on,obsolete=deny,resourcecontrol=deny";
    /** A portable POSIX user name: what {@code useradd} accepts by default, at most 32 bytes. */
    /** A tap device name as {@link NicSpec#tap} allows it: no comma, '/', space or control character. */
    private static final java.util.regex.Pattern TAP_DEVICE = java.util.regex.Pattern.compile("[A-Za-z0-9_.+-]{1,15}");
    private static final java.util.regex.Pattern USER_NAME = java.util.regex.Pattern.compile("[a-z_][a-z0-9_-]{0,31}");

    private final Path binary;
    private final Accelerator accelerator;
    private final String cpuModel;
    private final MachineType machine;
    private final boolean sandbox;
    private final String runAs; // null: QEMU keeps the JVM's user
    private final GuestPanicAction panicAction;

    private QemuCommandLine(Path binary, Accelerator accelerator, String cpuModel, MachineType machine, boolean sandbox,
                            String runAs, GuestPanicAction panicAction) {
        this.binary = Objects.requireNonNull(binary, "binary");
        this.accelerator = Objects.requireNonNull(accelerator, "accelerator");
        this.machine = Objects.requireNonNull(machine, "machine");
        this.sandbox = sandbox;
        this.runAs = runAs;
        this.panicAction = Objects.requireNonNull(panicAction, "panicAction");
        if (accelerator == Accelerator.AUTO) {
            throw new IllegalArgumentException("accelerator must be KVM or TCG; resolve AUTO first");
        }
        this.cpuModel = HostProbe.requireModelName(cpuModel);
        requireSafePath("binary", binary);
    }

    /**
     * A command line for the given QEMU binary, accelerator ({@link Accelerator#KVM} or
     * {@link Accelerator#TCG}), machine type, and whether to pass {@code -sandbox}.
     *
     * @throws IllegalArgumentException if the accelerator is {@link Accelerator#AUTO} or the
     *                                  binary path is not absolute, normalised and printable
     */
    static QemuCommandLine of(Path binary, Accelerator accelerator, MachineType machine, boolean sandbox) {
        return new QemuCommandLine(binary, accelerator, accelerator == Accelerator.KVM ? "host" : HostProbe.TCG_DEFAULT_MODEL,
                machine, sandbox, null, GuestPanicAction.END);
    }

    /**
     * This command line with {@code -cpu <model>}, the model the driver's probe chose or the user
     * set; without it, {@code host} under KVM and {@code max} under TCG.
     *
     * @throws IllegalArgumentException if {@code model} is not a CPU model name
     *                                  ({@code [A-Za-z0-9][A-Za-z0-9._-]*}, at most 64 characters)
     */
    QemuCommandLine withCpuModel(String model) {
        return new QemuCommandLine(binary, accelerator, model, machine, sandbox, runAs, panicAction);
    }

    /** This command line with {@code -action panic=} for {@code action}; by default {@link GuestPanicAction#END}. */
    QemuCommandLine withPanicAction(GuestPanicAction action) {
        return new QemuCommandLine(binary, accelerator, cpuModel, machine, sandbox, runAs, action);
    }

    /**
     * This command line with {@code -runas <user>}: QEMU drops to that user's uid and gid once it
     * has opened its disks, sockets and logs. The JVM must run as root for QEMU to switch user.
     *
     * @throws IllegalArgumentException if {@code user} is not a portable user name
     *                                  ({@code [a-z_][a-z0-9_-]*}, at most 32 characters)
     */
    QemuCommandLine runningAs(String user) {
        return new QemuCommandLine(binary, accelerator, cpuModel, machine, sandbox, requireUserName(user), panicAction);
    }

    /** The accelerator: KVM or TCG. */
    Accelerator accelerator() {
        return accelerator;
    }

    /** The {@code -cpu} model. */
    String cpuModel() {
        return cpuModel;
    }

    MachineType machine() {
        return machine;
    }

    /** The user QEMU switches to, or null. */
    String runAs() {
        return runAs;
    }

    /** Checks a user name for {@code -runas}: a portable POSIX name, which cannot be an option or hold a comma. */
    static String requireUserName(String user) {
        Objects.requireNonNull(user, "runAs");
        if (!USER_NAME.matcher(user).matches()) {
            throw new IllegalArgumentException("runAs must be a user name of lower-case letters, digits, '_' and '-',"
                    + " not starting with a digit or '-', at most 32 characters; was '"
                    + user.replaceAll("\\p{Cntrl}", "?") + "'");
        }
        return user;
    }

    /**
     * The arguments (the binary first) that start {@code spec} with its files in
     * {@code vmDirectory} and its QMP monitor on {@code qmpSocket}; no other monitor.
     *
     * @throws IllegalArgumentException if a path is not absolute, normalised and free of
     *                                  control characters
     */
    List<String> arguments(VmSpec spec, Path vmDirectory, Path qmpSocket) {
        requireSafePath("qmpSocket", qmpSocket);
        return build(spec, vmDirectory, qmpSocket, null);
    }

    /**
     * As {@link #arguments(VmSpec, Path, Path)}, plus a second QMP monitor on
     * {@code operatorSocket} for other clients: QEMU serves each monitor its own connection and
     * sends events to both.
     *
     * @throws IllegalArgumentException if a path is not absolute, normalised and free of
     *                                  control characters, or both sockets are the same path
     */
    List<String> arguments(VmSpec spec, Path vmDirectory, Path qmpSocket, Path operatorSocket) {
        requireSafePath("qmpSocket", qmpSocket);
        requireSafePath("operatorSocket", operatorSocket);
        if (operatorSocket.equals(qmpSocket)) {
            throw new IllegalArgumentException("operatorSocket must differ from qmpSocket, both were '" + qmpSocket + "'");
        }
        return build(spec, vmDirectory, qmpSocket, operatorSocket);
    }

    private List<String> build(VmSpec spec, Path vmDirectory, Path qmpSocket, Path operatorSocket) {
        Objects.requireNonNull(spec, "spec");
        requireSafePath("vmDirectory", vmDirectory);
        VmFiles files = new VmFiles(vmDirectory, qmpSocket, operatorSocket);
        List<String> args = new ArrayList<>();
        args.add(binary.toString());
        add(args, "-name", "guest=" + spec.id() + ",debug-threads=on");
        add(args, "-uuid", uuid(spec.id()).toString());
        add(args, "-machine", machine.qemuName());
        add(args, "-accel", accelerator.qemuName());
        add(args, "-cpu", cpuModel);
        add(args, "-m", spec.memoryMiB() + "M");
        add(args, "-smp", Integer.toString(spec.cpus()));
        args.add("-nodefaults");
        args.add("-no-user-config");
        add(args, "-display", "none");
        add(args, "-device", "pvpanic");
        add(args, "-action", "panic=" + panicAction.qemuAction());
        if (sandbox) {
            add(args, "-sandbox", SANDBOX);
        }
        if (runAs != null) {
            add(args, "-runas", runAs);
        }
        boot(args, spec.boot());
        String bus = machine.virtioBus();
        boolean scsi = false;
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskSpec disk = spec.disks().get(i);
            boolean cdrom = disk.kind() == DiskKind.CDROM;
            Path image = files.image(disk); // a CD-ROM is its ISO, in place; every other disk the VM's own image
            requireSafePath("disks[" + i + "]", image);
            String readOnly = disk.readOnly() || cdrom ? ",read-only=on" : "";
            add(args, "-blockdev", "driver=file,node-name=file" + i + ",filename=" + escape(image.toString()) + readOnly);
            // The format always given: QEMU never probes a disk. An overlay's backing file is opened with
            // the format recorded in it at creation (qemu-img create -F).
            add(args, "-blockdev", "driver=" + disk.format().qemuName() + ",node-name=disk" + i + ",file=file" + i + readOnly);
            if (cdrom) {
                if (!scsi) {
                    add(args, "-device", "virtio-scsi-" + bus + ",id=scsi0");
                    scsi = true;
                }
                add(args, "-device", "scsi-cd,bus=scsi0.0,drive=disk" + i + ",id=disk" + i);
            } else {
                add(args, "-device", "virtio-blk-" + bus + ",drive=disk" + i + ",id=disk" + i);
            }
        }
        for (int i = 0; i < spec.nics().size(); i++) {
            NicSpec nic = spec.nics().get(i);
            add(args, "-netdev", netdev(nic, i));
            add(args, "-device", "virtio-net-" + bus + ",netdev=net" + i + ",id=nic" + i + ",mac=" + nic.mac());
        }
        if (spec.cloudInit() != null) {
            cloudInitSeed(args, files, bus);
        }
        add(args, "-chardev", "socket,id=serial0,path=" + escape(files.consoleSocket().toString()) + ",server=on,wait=off");
        add(args, "-serial", "chardev:serial0");
        monitor(args, "qmp", qmpSocket);
        if (operatorSocket != null) {
            monitor(args, "operator", operatorSocket);
        }
        add(args, "-pidfile", files.pidFile().toString());
        args.add("-daemonize");
        return List.copyOf(args);
    }

    /**
     * The {@code -netdev} of NIC {@code index}: user-mode with one {@code hostfwd} per forward
     * ({@code proto:addr:hostport-:guestport}; host port 0 lets QEMU bind a free one, read back by
     * {@link UserNetForwards}), or a tap on the NIC's existing host device, without the
     * {@code /etc/qemu-ifup} scripts (the operator set the device up).
     */
    static String netdev(NicSpec nic, int index) {
        if (nic.mode() == NicMode.TAP) {
            String device = nic.tapDevice();
            if (device == null || !TAP_DEVICE.matcher(device).matches()) {
                throw new IllegalArgumentException("tap device name must be 1 to 15 of [A-Za-z0-9_.+-], was '"
                        + String.valueOf(device).replaceAll("\\p{Cntrl}", "?") + "'");
            }
            return "tap,id=net" + index + ",ifname=" + device + ",script=no,downscript=no";
        }
        StringBuilder netdev = new StringBuilder("user,id=net").append(index);
        for (PortForward f : nic.forwards()) {
            netdev.append(",hostfwd=").append(f.protocol().lowerCase()).append(':').append(f.hostAddress()).append(':')
                    .append(f.hostPort()).append("-:").append(f.guestPort());
        }
        return netdev.toString();
    }

    /** The cloud-init NoCloud seed, read-only: a raw image QEMU never probes, on its own virtio block device. */
    private static void cloudInitSeed(List<String> args, VmFiles files, String bus) {
        add(args, "-blockdev", "driver=file,node-name=cidata-file,filename=" + escape(files.cloudInitSeed().toString())
                + ",read-only=on");
        add(args, "-blockdev", "driver=raw,node-name=cidata,file=cidata-file,read-only=on");
        add(args, "-device", "virtio-blk-" + bus + ",drive=cidata,id=cidata");
    }

    private void boot(List<String> args, BootSpec boot) {
        if (boot.kernel() != null) {
            add(args, "-kernel", boot.kernel());
            if (boot.initrd() != null) {
                add(args, "-initrd", boot.initrd());
            }
            if (boot.cmdline() != null) {
                add(args, "-append", boot.cmdline());
            }
            return;
        }
        if (machine == MachineType.MICROVM) {
            return; // qboot has no boot menu; -boot would be ignored
        }
        StringBuilder order = new StringBuilder();
        for (BootDevice device : boot.order()) {
            char letter = switch (device) {
                case DISK -> 'c';
                case CDROM -> 'd';
                case NETWORK -> 'n';
            };
            if (order.indexOf(String.valueOf(letter)) < 0) {
                order.append(letter);
            }
        }
        add(args, "-boot", "order=" + order);
    }

    /** The SMBIOS UUID of a VM: name-based on its id, so the same VM keeps it across starts. */
    static UUID uuid(String vmId) {
        return UUID.nameUUIDFromBytes(("horcrux:" + vmId).getBytes(StandardCharsets.UTF_8));
    }

    /** Doubles commas, QEMU's escape inside comma-separated option lists. */
    static String escape(String value) {
        return value.replace(",", ",,");
    }

    /**
     * Checks that a path may reach a command line or a file name: absolute, already normalised
     * (no {@code .} or {@code ..} parts), no control characters.
     */
    static void requireSafePath(String what, Path path) {
        Objects.requireNonNull(path, what);
        String s = path.toString();
        for (int i = 0; i < s.length(); i++) {
            if (Character.isISOControl(s.charAt(i))) {
                throw new IllegalArgumentException(what + " must not contain control characters: '"
                        + s.replaceAll("\\p{Cntrl}", "?") + "'");
            }
        }
        if (!path.isAbsolute() || !path.normalize().equals(path)) {
            throw new IllegalArgumentException(what + " must be an absolute path without '.' or '..' parts, was '" + s + "'");
        }
    }

    /** A QMP monitor listening on a Unix socket; {@code wait=off}: QEMU does not wait for a client. */
    private static void monitor(List<String> args, String id, Path socket) {
        add(args, "-chardev", monitorChardev(id, socket));
        add(args, "-mon", "chardev=" + id + ",mode=control");
    }

    /** The {@code -chardev} value of a monitor's socket; reattach looks for the driver's in a process's arguments. */
    static String monitorChardev(String id, Path socket) {
        return "socket,id=" + id + ",path=" + escape(socket.toString()) + ",server=on,wait=off";
    }

    private static void add(List<String> args, String option, String value) {
        args.add(option);
        args.add(value);
    }
}
