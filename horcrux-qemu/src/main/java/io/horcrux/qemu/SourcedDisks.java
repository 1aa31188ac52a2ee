package io.horcrux.qemu;

import io.horcrux.Cancellation;
import io.horcrux.ProgressListener;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Progress;
import io.horcrux.model.VmSpec;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the image of a disk from its source: an overlay on its base, or a full copy with its
 * progress. Formats come from {@link SourceImages}, found once and always passed explicitly.
 */
final class SourcedDisks {
    private static final Logger log = LoggerFactory.getLogger(QemuDriver.class);

    private final QemuImg qemuImg;
    private final SourceImages sources;

    SourcedDisks(QemuImg qemuImg, SourceImages sources) {
        this.qemuImg = qemuImg;
        this.sources = sources;
    }

    void make(VmSpec spec, DiskSpec disk, Path image, ProgressListener listener, Cancellation cancellation) {
        SourceImages.Image source = sources.image(spec.id(), disk);
        if (disk.kind() == DiskKind.OVERLAY) {
            qemuImg.createOverlay(image, source.path(), source.format(), disk.sizeBytes());
            log.debug("VM {}: disk '{}' is an overlay on {} ({})", spec.id(), disk.name(), source.path(), source.format());
            return;
        }
        if (disk.kind() != DiskKind.COPY) {
            throw new IllegalArgumentException("disk '" + disk.name() + "' is " + disk.kind() + ", not an overlay or a copy");
        }
        log.info("VM {}: copying disk '{}' from {} ({}, {} bytes) to {}", spec.id(), disk.name(), source.path(),
                source.format(), source.virtualSize(), disk.format().qemuName());
        long started = System.nanoTime();
        ImageCopy.copy(qemuImg, source.path(), source.format(), image, disk.format(),
                percent -> listener.onProgress(new Progress(spec.id(), Progress.COPY, disk.name(), percent)),
                cancellation, "VM '" + spec.id() + "': copy of disk '" + disk.name() + "'");
        if (disk.sizeBytes() > source.virtualSize()) {
            qemuImg.resize(image, disk.format(), disk.sizeBytes());
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        log.info("VM {}: copied disk '{}' in {} ms ({} MiB/s)", spec.id(), disk.name(), millis,
                millis == 0 ? "-" : Math.round(source.virtualSize() / 1048576.0 / (millis / 1000.0)));
    }
}
