package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.VmSpec;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Golden argument lists: any change to what QEMU is given shows up here. */
class QemuCommandLineTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    @Test
    void q35WithKvmTwoDisksAndANic() {
        VmSpec spec = VmSpec.builder().id("web-1").name("Web, one").memoryMiB(512).cpus(2)
                .disk(DiskSpec.qcow2("root", 1L << 30))
                .disk(DiskSpec.raw("data", 1L << 20).asReadOnly())
                .nic(NicSpec.user("eth0").withMac("52:54:00:12:34:56"))
                .boot(BootSpec.devices(BootDevice.NETWORK, BootDevice.DISK, BootDevice.NETWORK))
                .build();
        List<String> args = QemuCommandLine.of(QEMU, Accelerator.KVM, MachineType.Q35, true)
                .arguments(spec, Path.of("/var/lib/horcrux/web-1"), Path.of("/var/lib/horcrux/web-1/qmp.sock"));
        assertThat(args).containsExactly(
                "/usr/bin/qemu-system-x86_64",
                "-name", "guest=web-1,debug-threads=on",
                "-uuid", QemuCommandLine.uuid("web-1").toString(),
                "-machine", "q35",
                "-accel", "kvm",
                "-cpu", "host",
                "-m", "512M",
                "-smp", "2",
                "-nodefaults",
                "-no-user-config",
                "-display", "none",
                "-device", "pvpanic",
                "-action", "panic=exit-failure",
                "-sandbox", "on,obsolete=deny,resourcecontrol=deny",
                "-boot", "order=nc",
                "-blockdev", "driver=file,node-name=file0,filename=/var/lib/horcrux/web-1/root.qcow2",
                "-blockdev", "driver=qcow2,node-name=disk0,file=file0",
                "-device", "virtio-blk-pci,drive=disk0,id=disk0",
                "-blockdev", "driver=file,node-name=file1,filename=/var/lib/horcrux/web-1/data.raw,read-only=on",
                "-blockdev", "driver=raw,node-name=disk1,file=file1,read-only=on",
                "-device", "virtio-blk-pci,drive=disk1,id=disk1",
                "-netdev", "user,id=net0",
                "-device", "virtio-net-pci,netdev=net0,id=nic0,mac=52:54:00:12:34:56",
                "-chardev", "socket,id=serial0,path=/var/lib/horcrux/web-1/console.sock,server=on,wait=off",
                "-serial", "chardev:serial0",
                "-chardev", "socket,id=qmp,path=/var/lib/horcrux/web-1/qmp.sock,server=on,wait=off",
                "-mon", "chardev=qmp,mode=control",
                "-pidfile", "/var/lib/horcrux/web-1/qemu.pid",
                "-daemonize");
    }

    @Test
    void microvmWithTcgKernelBootAndNoSandbox() {
        VmSpec spec = VmSpec.builder().id("tiny").memoryMiB(64)
                .boot(BootSpec.kernel("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0 quiet"))
                .build();
        List<String> args = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.MICROVM, false)
                .arguments(spec, Path.of("/s/tiny"), Path.of("/tmp/horcrux-0123456789ab/tiny.qmp"));
        assertThat(args).containsExactly(
                "/usr/bin/qemu-system-x86_64",
                "-name", "guest=tiny,debug-threads=on",
                "-uuid", QemuCommandLine.uuid("tiny").toString(),
                "-machine", "microvm",
                "-accel", "tcg",
                "-cpu", "max",
                "-m", "64M",
                "-smp", "1",
                "-nodefaults",
                "-no-user-config",
                "-display", "none",
                "-device", "pvpanic",
                "-action", "panic=exit-failure",
                "-kernel", "/boot/vmlinuz",
                "-initrd", "/boot/initrd.img",
                "-append", "console=ttyS0 quiet",
                "-chardev", "socket,id=serial0,path=/s/tiny/console.sock,server=on,wait=off",
                "-serial", "chardev:serial0",
                "-chardev", "socket,id=qmp,path=/tmp/horcrux-0123456789ab/tiny.qmp,server=on,wait=off",
                "-mon", "chardev=qmp,mode=control",
                "-pidfile", "/s/tiny/qemu.pid",
                "-daemonize");
    }

    @Test
    void theOperatorMonitorIsASecondQmpMonitorAfterTheDriversOwn() {
        VmSpec spec = VmSpec.builder().id("ops").build();
        Path dir = Path.of("/s/o,p/ops");
        List<String> args = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.MICROVM, false)
                .arguments(spec, dir, dir.resolve("qmp.sock"), dir.resolve("operator.sock"));
        assertThat(args.subList(args.indexOf("-serial") + 2, args.size())).containsExactly(
                "-chardev", "socket,id=qmp,path=/s/o,,p/ops/qmp.sock,server=on,wait=off",
                "-mon", "chardev=qmp,mode=control",
                "-chardev", "socket,id=operator,path=/s/o,,p/ops/operator.sock,server=on,wait=off",
                "-mon", "chardev=operator,mode=control",
                "-pidfile", "/s/o,p/ops/qemu.pid",
                "-daemonize");
        QemuCommandLine line = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.Q35, false);
        assertThatThrownBy(() -> line.arguments(spec, dir, dir.resolve("qmp.sock"), dir.resolve("qmp.sock")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("operatorSocket must differ");
        assertThatThrownBy(() -> line.arguments(spec, dir, dir.resolve("qmp.sock"), Path.of("/s/x\n-daemonize")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("operatorSocket");
        assertThatThrownBy(() -> line.arguments(spec, dir, dir.resolve("qmp.sock"), Path.of("op.sock")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("operatorSocket");
    }

    @Test
    void microvmDisksAndNicsUseVirtioMmioDevices() {
        VmSpec spec = VmSpec.builder().id("m").memoryMiB(64).disk(DiskSpec.qcow2("root", 1L << 20))
                .nic(NicSpec.user("n").withMac("52:54:00:00:00:01")).build();
        List<String> args = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.MICROVM, true)
                .arguments(spec, Path.of("/s/m"), Path.of("/s/m/qmp.sock"));
        assertThat(args).contains("virtio-blk-device,drive=disk0,id=disk0", "virtio-net-device,netdev=net0,id=nic0,mac=52:54:00:00:00:01")
                .doesNotContain("-boot");
    }

    @Test
    void commasInPathsAreDoubledWhereQemuParsesOptionLists() {
        VmSpec spec = VmSpec.builder().id("c").disk(DiskSpec.qcow2("root", 1L << 20)).build();
        Path dir = Path.of("/data/a,b/c,readonly=on/c");
        List<String> args = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.Q35, false)
                .arguments(spec, dir, dir.resolve("qmp.sock"));
        assertThat(args).contains(
                "driver=file,node-name=file0,filename=/data/a,,b/c,,readonly=on/c/root.qcow2",
                "socket,id=serial0,path=/data/a,,b/c,,readonly=on/c/console.sock,server=on,wait=off",
                "socket,id=qmp,path=/data/a,,b/c,,readonly=on/c/qmp.sock,server=on,wait=off");
        // -pidfile takes a plain path, not an option list.
        assertThat(args).containsSubsequence("-pidfile", "/data/a,b/c,readonly=on/c/qemu.pid");
    }

    @Test
    void theUuidIsStablePerVm() {
        assertThat(QemuCommandLine.uuid("a")).isEqualTo(QemuCommandLine.uuid("a")).isNotEqualTo(QemuCommandLine.uuid("b"));
    }

    @Test
    void pathsWithNewlinesDotDotOrRelativeAreRefused() {
        QemuCommandLine line = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.Q35, false);
        VmSpec spec = VmSpec.builder().id("x").build();
        assertThatThrownBy(() -> line.arguments(spec, Path.of("/s/x\n-daemonize"), Path.of("/s/x/qmp.sock")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("control characters");
        assertThatThrownBy(() -> line.arguments(spec, Path.of("/s/../etc/x"), Path.of("/s/x/qmp.sock")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'..'");
        assertThatThrownBy(() -> line.arguments(spec, Path.of("s/x"), Path.of("/s/x/qmp.sock")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("absolute");
        assertThatThrownBy(() -> line.arguments(spec, Path.of("/s/x"), Path.of("/s/x/q\r.sock")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QemuCommandLine.of(Path.of("qemu"), Accelerator.TCG, MachineType.Q35, false))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void autoMustBeResolvedFirst() {
        assertThatThrownBy(() -> QemuCommandLine.of(QEMU, Accelerator.AUTO, MachineType.Q35, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("AUTO");
    }

    @Test
    void runAsAddsOneRunasOptionAndNothingByDefault() {
        VmSpec spec = VmSpec.builder().id("tiny").memoryMiB(64).cpus(1).build();
        List<String> plain = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.MICROVM, true)
                .arguments(spec, Path.of("/s/tiny"), Path.of("/s/tiny/qmp.sock"));
        assertThat(plain).doesNotContain("-runas");
        List<String> dropped = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.MICROVM, true).runningAs("nobody")
                .arguments(spec, Path.of("/s/tiny"), Path.of("/s/tiny/qmp.sock"));
        assertThat(dropped).containsOnlyOnce("-runas");
        assertThat(dropped.get(dropped.indexOf("-runas") + 1)).isEqualTo("nobody");
        assertThat(dropped.size()).isEqualTo(plain.size() + 2);
        assertThatThrownBy(() -> QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.MICROVM, true)
                .runningAs("nobody,chroot=/"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void everyVmHasAPanicDeviceAndThePanicActionIsASetting() {
        VmSpec spec = VmSpec.builder().id("p").build();
        Path dir = Path.of("/s/p");
        List<String> ended = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.Q35, false)
                .arguments(spec, dir, dir.resolve("qmp.sock"));
        assertThat(ended).containsSequence("-device", "pvpanic", "-action", "panic=exit-failure");
        List<String> kept = QemuCommandLine.of(QEMU, Accelerator.TCG, MachineType.Q35, false)
                .withPanicAction(GuestPanicAction.KEEP_PAUSED).runningAs("nobody").arguments(spec, dir, dir.resolve("qmp.sock"));
        assertThat(kept).containsSequence("-action", "panic=pause").containsSequence("-runas", "nobody");
    }
}
