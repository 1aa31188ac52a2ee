package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What QEMU is given for disks made from images: formats always explicit, CD-ROMs in place and read-only. */
class QemuCommandLineImagesTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final Path DIR = Path.of("/var/lib/horcrux/inst");

    private static List<String> disksAndBoot(MachineType machine, VmSpec spec) {
        List<String> args = QemuCommandLine.of(QEMU, Accelerator.TCG, machine, false)
                .arguments(spec, DIR, DIR.resolve("qmp.sock"));
        List<String> picked = new ArrayList<>();
        for (int i = 0; i < args.size() - 1; i++) {
            String option = args.get(i);
            boolean disk = option.equals("-blockdev")
                    || option.equals("-device") && !args.get(i + 1).startsWith("pvpanic");
            if (disk || option.equals("-boot")) {
                picked.add(option);
                picked.add(args.get(i + 1));
            }
        }
        return picked;
    }

    @Test
    void anInstallerVmOnQ35BootsItsCdromFirstWhichIsItsIsoInPlaceReadOnlyOnVirtioScsi() {
        VmSpec spec = VmSpec.builder().id("inst")
                .disk(DiskSpec.overlay("root", Path.of("/images/debian.qcow2")))
                .disk(DiskSpec.cdrom("media", Path.of("/images/net,inst.iso")))
                .disk(DiskSpec.copyOf("copy", Path.of("/images/golden.img")))
                .disk(DiskSpec.cdrom("drivers", Path.of("/images/drivers.iso")))
                .boot(BootSpec.devices(BootDevice.CDROM, BootDevice.DISK)).build();
        assertThat(disksAndBoot(MachineType.Q35, spec)).containsExactly(
                "-boot", "order=dc",
                "-blockdev", "driver=file,node-name=file0,filename=/var/lib/horcrux/inst/root.qcow2",
                "-blockdev", "driver=qcow2,node-name=disk0,file=file0",
                "-device", "virtio-blk-pci,drive=disk0,id=disk0",
                "-blockdev", "driver=file,node-name=file1,filename=/images/net,,inst.iso,read-only=on",
                "-blockdev", "driver=raw,node-name=disk1,file=file1,read-only=on",
                "-device", "virtio-scsi-pci,id=scsi0",
                "-device", "scsi-cd,bus=scsi0.0,drive=disk1,id=disk1",
                "-blockdev", "driver=file,node-name=file2,filename=/var/lib/horcrux/inst/copy.qcow2",
                "-blockdev", "driver=qcow2,node-name=disk2,file=file2",
                "-device", "virtio-blk-pci,drive=disk2,id=disk2",
                "-blockdev", "driver=file,node-name=file3,filename=/images/drivers.iso,read-only=on",
                "-blockdev", "driver=raw,node-name=disk3,file=file3,read-only=on",
                "-device", "scsi-cd,bus=scsi0.0,drive=disk3,id=disk3");
    }

    @Test
    void onMicrovmTheCdromIsOnAVirtioScsiMmioController() {
        VmSpec spec = VmSpec.builder().id("inst").disk(DiskSpec.cdrom("media", Path.of("/images/seed.iso")))
                .boot(BootSpec.kernel("/boot/vmlinuz", null, null)).build();
        assertThat(disksAndBoot(MachineType.MICROVM, spec)).containsExactly(
                "-blockdev", "driver=file,node-name=file0,filename=/images/seed.iso,read-only=on",
                "-blockdev", "driver=raw,node-name=disk0,file=file0,read-only=on",
                "-device", "virtio-scsi-device,id=scsi0",
                "-device", "scsi-cd,bus=scsi0.0,drive=disk0,id=disk0");
    }

    @Test
    void everyFormatNodeNamesItsDriverSoQemuNeverProbes() {
        VmSpec spec = VmSpec.builder().id("inst").disk(DiskSpec.overlay("a", Path.of("/b.img")))
                .disk(DiskSpec.copyOf("b", Path.of("/b.img"), io.horcrux.model.DiskFormat.RAW))
                .disk(DiskSpec.cdrom("c", Path.of("/c.iso"))).disk(DiskSpec.raw("d", 1L << 20)).build();
        List<String> args = disksAndBoot(MachineType.Q35, spec);
        List<String> formatNodes = new ArrayList<>();
        for (int i = 0; i < args.size(); i += 2) {
            if (args.get(i).equals("-blockdev") && args.get(i + 1).contains("node-name=disk")) {
                formatNodes.add(args.get(i + 1).substring(0, args.get(i + 1).indexOf(',')));
            }
        }
        assertThat(formatNodes).containsExactly("driver=qcow2", "driver=raw", "driver=raw", "driver=raw");
        assertThat(args).noneMatch(a -> a.startsWith("-drive")).noneMatch(a -> a.contains("format=auto"));
    }
}
