package io.horcrux.qemu;

import io.horcrux.Cancellation;
import io.horcrux.DriverException;
import io.horcrux.OperationCancelledException;
import io.horcrux.Subscription;
import io.horcrux.model.DiskFormat;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.DoubleConsumer;

/**
 * One cancellable {@code qemu-img convert -p}: a full copy of an image into a new one, its
 * progress (percent, never going back, the last 100) to a consumer on the calling thread. A
 * cancellation (or an interrupt of the calling thread, noticed at the next progress record)
 * ends qemu-img at once. A copy that fails or is cancelled removes its partial target.
 */
final class ImageCopy {
    private ImageCopy() {
    }

    /**
     * Copies {@code source} (of format {@code sourceFormat}, given, never probed) into the new
     * file {@code target}.
     *
     * @throws OperationCancelledException if cancelled or interrupted; the target is removed
     * @throws DriverException             if qemu-img fails (with its words); the target is removed
     */
    static void copy(QemuImg qemuImg, Path source, String sourceFormat, Path target, DiskFormat targetFormat,
                     DoubleConsumer progress, Cancellation cancellation, String what) {
        QemuCommandLine.requireSafePath("source", source);
        QemuCommandLine.requireSafePath("target", target);
        QemuImg.requireFormatName(sourceFormat);
        cancellation.throwIfCancelled(what);
        if (Files.exists(target)) {
            throw new DriverException(what + ": " + target + " exists");
        }
        List<String> args = List.of(qemuImg.binary().toString(), "convert", "-p", "-f", sourceFormat,
                "-O", targetFormat.qemuName(), source.toString(), target.toString());
        Path errors = null;
        Process process = null;
        double[] last = {0};
        try {
            errors = Files.createTempFile("horcrux-qemu-img", ".err");
            process = new ProcessBuilder(args).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectError(errors.toFile()).start();
            Process running = process;
            try (Subscription stop = cancellation.onCancel(running::destroyForcibly);
                 InputStream in = running.getInputStream()) {
                QemuImg.readProgress(in, percent -> {
                    if (Thread.currentThread().isInterrupted()) {
                        running.destroyForcibly();
                        return;
                    }
                    if (percent >= last[0] && percent <= 100) {
                        last[0] = percent;
                        progress.accept(percent);
                    }
                });
                running.waitFor();
            }
            if (cancellation.isCancelled() || Thread.currentThread().isInterrupted()) {
                throw new OperationCancelledException(what + ": cancelled at " + Math.round(last[0]) + "%; nothing kept");
            }
            if (running.exitValue() != 0) {
                throw new DriverException(what + ": qemu-img convert failed (exit " + running.exitValue() + "): "
                        + Files.readString(errors, StandardCharsets.UTF_8).strip());
            }
            if (last[0] < 100) {
                progress.accept(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            removeQuietly(target, process);
            throw new OperationCancelledException(what + ": interrupted at " + Math.round(last[0]) + "%; nothing kept", e);
        } catch (IOException e) {
            removeQuietly(target, process);
            if (cancellation.isCancelled() || Thread.currentThread().isInterrupted()) {
                // ending qemu-img closed the stream being read
                throw new OperationCancelledException(what + ": cancelled at " + Math.round(last[0]) + "%; nothing kept", e);
            }
            throw new DriverException(what + ": cannot run qemu-img convert: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            removeQuietly(target, process);
            throw e;
        } finally {
            if (errors != null) {
                try {
                    Files.deleteIfExists(errors);
                } catch (IOException ignored) {
                    // a temporary file; nothing else to do
                }
            }
        }
    }

    /** Ends qemu-img if it still runs and removes the partial target. */
    private static void removeQuietly(Path target, Process process) {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            Files.deleteIfExists(target);
        } catch (IOException e) {
            // the VM directory is removed as a whole after this
        }
    }
}
