package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.horcrux.DriverException;
import io.horcrux.model.DiskFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleConsumer;

/**
 * Runs {@code qemu-img} with argument lists (never a shell): {@link #create}, {@link #info},
 * {@link #resize} and {@link #convert} with progress. Image paths must be absolute and
 * normalised, without control characters, so that none is mistaken for an option or a
 * protocol prefix. Every failure is a {@link DriverException} carrying qemu-img's message.
 *
 * <p>Immutable and thread-safe; each call runs one process.
 */
public final class QemuImg {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path binary;
    private final Duration timeout;

    private QemuImg(Path binary, Duration timeout) {
        QemuCommandLine.requireSafePath("qemu-img binary", binary);
        this.binary = binary;
        this.timeout = Objects.requireNonNull(timeout, "timeout");
    }

    /** Runs the given {@code qemu-img} binary; {@link #create}, {@link #info} and {@link #resize} time out after 5 minutes. */
    public static QemuImg at(Path binary) {
        return new QemuImg(binary, Duration.ofMinutes(5));
    }

    /**
     * What {@code qemu-img info --output=json} says of an image.
     *
     * @param format      the format QEMU detected, such as {@code "qcow2"}
     * @param virtualSize the size the guest sees, in bytes
     * @param actualSize  the bytes the image takes on the host, or -1 when unknown
     */
    public record Info(String format, long virtualSize, long actualSize) {
    }

    /** Creates an image of {@code sizeBytes} virtual bytes; fails if the file exists. */
    public void create(Path image, DiskFormat format, long sizeBytes) {
        QemuCommandLine.requireSafePath("image", image);
        Objects.requireNonNull(format, "format");
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException("sizeBytes must be positive, was " + sizeBytes);
        }
        if (Files.exists(image)) {
            throw new DriverException("cannot create image " + image + ": the file exists");
        }
        run("create " + image, List.of(binary.toString(), "create", "-q", "-f", format.qemuName(), image.toString(),
                Long.toString(sizeBytes)), null);
    }

    /** Reads an image's format and sizes; the format is detected by qemu-img. */
    public Info info(Path image) {
        QemuCommandLine.requireSafePath("image", image);
        String out = run("info " + image, List.of(binary.toString(), "info", "--output=json", image.toString()), null);
        try {
            JsonNode node = JSON.readTree(out);
            return new Info(node.path("format").asText(), node.path("virtual-size").asLong(-1),
                    node.path("actual-size").asLong(-1));
        } catch (IOException e) {
            throw new DriverException("qemu-img info " + image + ": unreadable output: " + e.getMessage(), e);
        }
    }

    /** Changes an image's virtual size; shrinking is refused by qemu-img unless the format allows it. */
    public void resize(Path image, DiskFormat format, long newSizeBytes) {
        QemuCommandLine.requireSafePath("image", image);
        Objects.requireNonNull(format, "format");
        if (newSizeBytes <= 0) {
            throw new IllegalArgumentException("newSizeBytes must be positive, was " + newSizeBytes);
        }
        run("resize " + image, List.of(binary.toString(), "resize", "-q", "-f", format.qemuName(), image.toString(),
                Long.toString(newSizeBytes)), null);
    }

    /**
     * Converts {@code source} into a new image {@code target}, reporting progress from 0 to 100
     * (percent) to {@code progress} on the calling thread as qemu-img prints it ({@code -p}).
     * Runs without a time limit. A failed conversion removes the partial target.
     */
    public void convert(Path source, DiskFormat sourceFormat, Path target, DiskFormat targetFormat, DoubleConsumer progress) {
        QemuCommandLine.requireSafePath("source", source);
        QemuCommandLine.requireSafePath("target", target);
        Objects.requireNonNull(sourceFormat, "sourceFormat");
        Objects.requireNonNull(targetFormat, "targetFormat");
        Objects.requireNonNull(progress, "progress");
        if (Files.exists(target)) {
            throw new DriverException("cannot convert into " + target + ": the file exists");
        }
        try {
            run("convert " + source, List.of(binary.toString(), "convert", "-p", "-f", sourceFormat.qemuName(),
                    "-O", targetFormat.qemuName(), source.toString(), target.toString()), progress);
        } catch (RuntimeException e) {
            try {
                Files.deleteIfExists(target);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** Runs qemu-img; returns its standard output, or throws with its standard error. */
    private String run(String what, List<String> args, DoubleConsumer progress) {
        Path errors = null;
        try {
            errors = Files.createTempFile("horcrux-qemu-img", ".err");
            Process process = new ProcessBuilder(args)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectError(errors.toFile())
                    .start();
            String out;
            try (InputStream in = process.getInputStream()) {
                out = progress == null ? new String(in.readAllBytes(), StandardCharsets.UTF_8) : readProgress(in, progress);
            }
            boolean exited = progress != null ? waitForever(process) : process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!exited) {
                process.destroyForcibly();
                throw new DriverException("qemu-img " + what + ": no result within " + timeout.toSeconds() + " s");
            }
            if (process.exitValue() != 0) {
                String message = Files.readString(errors, StandardCharsets.UTF_8).strip();
                throw new DriverException("qemu-img " + what + " failed (exit " + process.exitValue() + "): "
                        + (message.isEmpty() ? out.strip() : message));
            }
            return out;
        } catch (IOException e) {
            throw new DriverException("cannot run " + binary + " (" + what + "): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("interrupted while running qemu-img " + what, e);
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

    private static boolean waitForever(Process process) throws InterruptedException {
        process.waitFor();
        return true;
    }

    /** Parses {@code "    (12.50/100%)\r"} records; returns everything else that was printed. */
    static String readProgress(InputStream in, DoubleConsumer progress) throws IOException {
        ByteArrayOutputStream rest = new ByteArrayOutputStream();
        StringBuilder record = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0) {
            if (b == '\r' || b == '\n') {
                if (!parseProgress(record, progress)) {
                    rest.write(record.toString().getBytes(StandardCharsets.UTF_8));
                    rest.write(b);
                }
                record.setLength(0);
            } else if (record.length() < 256) {
                record.append((char) b);
            }
        }
        if (!parseProgress(record, progress)) {
            rest.write(record.toString().getBytes(StandardCharsets.UTF_8));
        }
        return rest.toString(StandardCharsets.UTF_8);
    }

    private static boolean parseProgress(CharSequence record, DoubleConsumer progress) {
        String s = record.toString().strip();
        if (s.startsWith("(") && s.endsWith("/100%)")) {
            try {
                progress.accept(Double.parseDouble(s.substring(1, s.length() - "/100%)".length())));
                return true;
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return s.isEmpty();
    }

    /**
     * Creates a qcow2 overlay {@code overlay} whose backing file is {@code base}, of format
     * {@code baseFormat} (given, never probed: {@code -F}, and recorded in the overlay so that
     * QEMU never guesses it at start). Its virtual size is the base's when {@code sizeBytes} is
     * 0, else {@code sizeBytes}. The base is only read. Fails if the overlay exists.
     *
     * @throws IllegalArgumentException if a path is not absolute and normalised, or
     *                                  {@code baseFormat} is not a format name ({@code [a-z0-9]+})
     */
    public void createOverlay(Path overlay, Path base, String baseFormat, long sizeBytes) {
        QemuCommandLine.requireSafePath("overlay", overlay);
        QemuCommandLine.requireSafePath("base", base);
        requireFormatName(baseFormat);
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("sizeBytes must not be negative, was " + sizeBytes);
        }
        if (Files.exists(overlay)) {
            throw new DriverException("cannot create image " + overlay + ": the file exists");
        }
        List<String> args = new java.util.ArrayList<>(List.of(binary.toString(), "create", "-q", "-f", "qcow2",
                "-b", base.toString(), "-F", baseFormat, overlay.toString()));
        if (sizeBytes > 0) {
            args.add(Long.toString(sizeBytes));
        }
        run("create " + overlay, args, null);
    }

    /**
     * {@code qemu-img info --output=json} of an image, with {@code --backing-chain} when
     * {@code chain} (then a JSON array: the image first, then each backing file; else one
     * object). The image's own format is detected by qemu-img.
     */
    String infoJson(Path image, boolean chain) {
        QemuCommandLine.requireSafePath("image", image);
        List<String> args = chain
                ? List.of(binary.toString(), "info", "--output=json", "--backing-chain", image.toString())
                : List.of(binary.toString(), "info", "--output=json", image.toString());
        return run("info " + image, args, null);
    }

    /** The binary, for the runs that need their own process (a cancellable copy). */
    Path binary() {
        return binary;
    }

    static String requireFormatName(String format) {
        Objects.requireNonNull(format, "format");
        if (!format.matches("[a-z0-9]{1,16}")) {
            throw new IllegalArgumentException("an image format name must match [a-z0-9]{1,16}, was '"
                    + format.replaceAll("\\p{Cntrl}", "?") + "'");
        }
        return format;
    }

    @Override
    public String toString() {
        return "QemuImg[" + binary + "]";
    }
}
