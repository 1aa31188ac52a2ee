package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.model.CloudInit;
import io.horcrux.model.NicMode;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.VmSpec;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The network and cloud-init parts of the argument list: forwards, taps and the seed volume. */
class QemuNetworkCommandLineTest {
    private static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    private static final Path DIR = Path.of("/var/lib/horcrux/web-1");

    private static List<String> args(VmSpec spec, MachineType machine) {
        return QemuCommandLine.of(QEMU, Accelerator.TCG, machine, false).arguments(spec, DIR, DIR.resolve("qmp.sock"));
    }

    @Test
    void userNicsCarryAHostfwdPerForwardAndTapNicsTheirDeviceWithoutScripts() {
        VmSpec spec = VmSpec.builder().id("web-1")
                .nic(NicSpec.user("eth0").withMac("52:54:00:00:00:01").forward(PortForward.tcp(0, 22),
                        PortForward.udp(5353, 53).onHostAddress("0.0.0.0")))
                .nic(NicSpec.tap("eth1", "tap-web1").withMac("52:54:00:00:00:02"))
                .nic(NicSpec.user("eth2").withMac("52:54:00:00:00:03"))
                .build();
        assertThat(args(spec, MachineType.Q35)).containsSubsequence(
                "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:0-:22,hostfwd=udp:0.0.0.0:5353-:53",
                "-device", "virtio-net-pci,netdev=net0,id=nic0,mac=52:54:00:00:00:01",
                "-netdev", "tap,id=net1,ifname=tap-web1,script=no,downscript=no",
                "-device", "virtio-net-pci,netdev=net1,id=nic1,mac=52:54:00:00:00:02",
                "-netdev", "user,id=net2",
                "-device", "virtio-net-pci,netdev=net2,id=nic2,mac=52:54:00:00:00:03");
        assertThat(args(spec, MachineType.Q35)).noneMatch(a -> a.contains("cidata"));
    }

    @Test
    void theCloudInitSeedIsAReadOnlyRawVolumeOfItsOwn() {
        VmSpec spec = VmSpec.builder().id("web-1").cloudInit(CloudInit.userData("#cloud-config\n")).build();
        assertThat(args(spec, MachineType.Q35)).containsSubsequence(
                "-blockdev", "driver=file,node-name=cidata-file,filename=/var/lib/horcrux/web-1/seed.cidata.iso,read-only=on",
                "-blockdev", "driver=raw,node-name=cidata,file=cidata-file,read-only=on",
                "-device", "virtio-blk-pci,drive=cidata,id=cidata");
        assertThat(args(spec, MachineType.MICROVM)).contains("virtio-blk-device,drive=cidata,id=cidata");
    }

    @Test
    void aTapNameThatCouldAddAnOptionNeverReachesTheCommandLine() {
        // VmSpec refuses such names; the command line checks again, as it does every value it is given.
        NicSpec hostile = new NicSpec("eth0", "52:54:00:00:00:01", NicMode.TAP, "t,script=/x", List.of());
        assertThatThrownBy(() -> QemuCommandLine.netdev(hostile, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
