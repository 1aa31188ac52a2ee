package io.horcrux.testkit;

import io.horcrux.Cancellation;
import io.horcrux.DriverException;
import io.horcrux.OperationCancelledException;
import io.horcrux.ProgressListener;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Progress;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the simulated driver does with disks made from images, as the QEMU driver does it: the
 * host's checks of each source image before anything is written, and the copies' progress and
 * cancellation. Nothing is read beyond a source's first bytes, and nothing is ever written.
 */
final class SimulatedImages {
    private static final byte[] QCOW2_MAGIC = {'Q', 'F', 'I', (byte) 0xfb};
    /** The steps a simulated copy reports, in percent. */
    private static final double[] STEPS = {0, 25, 50, 75, 100};

    private SimulatedImages() {
    }

    /**
     * Refuses, naming each disk's {@code source} field and the rule, a source that is missing,
     * not a regular file, unreadable, or not an image (empty, or a qcow2 header of no version
     * QEMU knows); all problems in one exception.
     */
    static void check(VmSpec spec) {
        check(spec, true);
    }

    /** As {@link #check(VmSpec)}; without {@code copies}, a copy's source (read only when it is made) is not looked at. */
    static void check(VmSpec spec, boolean copies) {
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskSpec disk = spec.disks().get(i);
            if (disk.kind() != DiskKind.EMPTY && (copies || disk.kind() != DiskKind.COPY)) {
                String problem = problem(Path.of(disk.source()));
                if (problem != null) {
                    problems.add("disks[" + i + "].source: " + problem);
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new DriverException("VM '" + spec.id() + "': " + String.join("; ", problems));
        }
    }

    private static String problem(Path source) {
        String problem = io.horcrux.internal.SourceFiles.problem(source);
        if (problem != null) {
            return problem;
        }
        byte[] head = new byte[8];
        int n;
        try (InputStream in = Files.newInputStream(source, LinkOption.NOFOLLOW_LINKS)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            return "must be readable, " + source + ": " + e.getMessage();
        }
        if (n == 0) {
            return "must be an image, " + source + " is empty";
        }
        if (n >= 8 && Arrays.equals(Arrays.copyOf(head, 4), QCOW2_MAGIC)) {
            int version = ((head[4] & 0xff) << 24) | ((head[5] & 0xff) << 16) | ((head[6] & 0xff) << 8) | (head[7] & 0xff);
            if (version != 2 && version != 3) {
                return "must be an image QEMU reads, " + source + " has a qcow2 header of version " + version;
            }
        }
        return null;
    }

    /**
     * The copies of the spec's {@link DiskKind#COPY} disks, each taking {@code copyTime} in
     * steps of a quarter and reporting each step.
     *
     * @throws OperationCancelledException if cancelled (or interrupted) before the last step
     */
    static void copy(VmSpec spec, Duration copyTime, ProgressListener listener, Cancellation cancellation) {
        copy(spec, disk -> disk.kind() == DiskKind.COPY, copyTime, listener, cancellation);
    }

    /** As {@link #copy(VmSpec, Duration, ProgressListener, Cancellation)}, of the disks {@code copied} picks. */
    static void copy(VmSpec spec, java.util.function.Predicate<DiskSpec> copied, Duration copyTime,
                     ProgressListener listener, Cancellation cancellation) {
        for (DiskSpec disk : spec.disks()) {
            if (!copied.test(disk)) {
                continue;
            }
            for (int step = 0; step < STEPS.length; step++) {
                cancellation.throwIfCancelled("VM '" + spec.id() + "': copy of disk '" + disk.name() + "'");
                if (step > 0 && !copyTime.isZero()) {
                    pause(copyTime.dividedBy(STEPS.length - 1), spec.id(), cancellation);
                }
                cancellation.throwIfCancelled("VM '" + spec.id() + "': copy of disk '" + disk.name() + "'");
                listener.onProgress(new Progress(spec.id(), Progress.COPY, disk.name(), STEPS[step]));
            }
        }
        cancellation.throwIfCancelled("provisioning VM '" + spec.id() + "'");
    }

    /** Waits out a step of a copy; a cancel ends the wait at once. */
    private static void pause(Duration duration, String vmId, Cancellation cancellation) {
        java.util.concurrent.CountDownLatch cancelled = new java.util.concurrent.CountDownLatch(1);
        try (io.horcrux.Subscription wake = cancellation.onCancel(cancelled::countDown)) {
            cancelled.await(duration.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationCancelledException("VM '" + vmId + "': provisioning interrupted", e);
        }
    }
}
