package io.horcrux.qemu;

import io.horcrux.Cancellation;
import io.horcrux.DriverException;
import io.horcrux.ProgressListener;
import io.horcrux.model.CloneMode;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Progress;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Templates and clones in the state directory. A template is a VM directory holding the marker
 * file {@value #MARKER} (no disk file has a name without a dot), its disk images made read-only
 * files (0400): never started again, they are only ever opened read-only, as the backing files of
 * linked clones' overlays or the source of full copies. A linked clone's disk is a qcow2 overlay
 * on the template's image, written by the driver itself ({@link Qcow2Image#createOverlay}, the
 * template's format recorded in it, so QEMU never probes it): no process to spawn, so a linked
 * clone takes milliseconds. A full clone's disk is a {@code qemu-img convert} copy
 * ({@link ImageCopy}) with progress and cancel. Either way the clone's directory is made whole or
 * not at all.
 */
final class QemuClones {
    private static final Logger log = LoggerFactory.getLogger(QemuDriver.class);
    /** In a template's VM directory. */
    static final String MARKER = "template";

    private final StateDirectory state;
    private final QemuImg qemuImg;

    QemuClones(StateDirectory state, QemuImg qemuImg) {
        this.state = state;
        this.qemuImg = qemuImg;
    }

    boolean isTemplate(String vmId) {
        return Files.exists(state.files(vmId).directory().resolve(MARKER), LinkOption.NOFOLLOW_LINKS);
    }

    /** Marks the VM a template and makes its disk images read-only files. Idempotent. */
    void makeTemplate(Vm vm) {
        VmFiles files = state.files(vm.id());
        if (!Files.isDirectory(files.directory(), LinkOption.NOFOLLOW_LINKS)) {
            throw new DriverException("VM '" + vm.id() + "' is not provisioned here: no " + files.directory());
        }
        try {
            for (DiskSpec disk : vm.spec().disks()) {
                if (disk.kind() == DiskKind.CDROM) {
                    continue;
                }
                Path image = files.disk(disk);
                if (!Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS)) {
                    throw new DriverException("VM '" + vm.id() + "': disk '" + disk.name() + "' has no image " + image);
                }
                Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("r--------"));
            }
            Path marker = files.directory().resolve(MARKER);
            if (!Files.exists(marker, LinkOption.NOFOLLOW_LINKS)) {
                Files.writeString(marker, "made a template; its disk images are read-only bases\n");
            }
        } catch (IOException e) {
            throw new DriverException("VM '" + vm.id() + "': cannot make its images read-only: " + e, e);
        }
        log.info("VM {}: a template; its disk images are read-only bases", vm.id());
    }

    /** Provisions {@code clone} from {@code source}'s images; nothing is left when it fails or is cancelled. */
    void provision(Vm source, VmSpec clone, CloneMode mode, ProgressListener listener, Cancellation cancellation) {
        VmFiles from = state.files(source.id());
        if (!Files.isDirectory(from.directory(), LinkOption.NOFOLLOW_LINKS)) {
            throw new DriverException("VM '" + source.id() + "' is not provisioned here: no " + from.directory());
        }
        if (mode == CloneMode.LINKED && !isTemplate(source.id())) {
            throw new DriverException("VM '" + source.id() + "' is not a template: a linked clone's disks are overlays"
                    + " on a template's read-only images");
        }
        cancellation.throwIfCancelled("cloning VM '" + source.id() + "' to '" + clone.id() + "'");
        long started = System.nanoTime();
        state.provisionEach(clone, (disk, image) -> {
            DiskSpec sourceDisk = source.spec().disks().stream().filter(d -> d.name().equals(disk.name())).findFirst()
                    .orElseThrow(() -> new DriverException("VM '" + source.id() + "' has no disk '" + disk.name() + "'"));
            Path base = from.disk(sourceDisk);
            if (!Files.isRegularFile(base, LinkOption.NOFOLLOW_LINKS)) {
                throw new DriverException("VM '" + source.id() + "': disk '" + disk.name() + "' has no image " + base);
            }
            if (mode == CloneMode.LINKED) {
                if (sourceDisk.format() != DiskFormat.QCOW2 || disk.format() != DiskFormat.QCOW2) {
                    throw new DriverException("VM '" + clone.id() + "': disk '" + disk.name() + "' of a linked clone"
                            + " must be qcow2 on a qcow2 template image");
                }
                Qcow2Image.createOverlay(image, Qcow2Image.virtualSize(base), base, sourceDisk.format().qemuName());
            } else {
                ImageCopy.copy(qemuImg, base, sourceDisk.format().qemuName(), image, disk.format(),
                        percent -> listener.onProgress(new Progress(clone.id(), Progress.COPY, disk.name(), percent)),
                        cancellation, "VM '" + clone.id() + "': copy of disk '" + disk.name() + "' of VM '" + source.id() + "'");
            }
        });
        log.info("VM {}: {} clone of {} provisioned in {} ms", clone.id(), mode == CloneMode.LINKED ? "linked" : "full",
                source.id(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }
}
