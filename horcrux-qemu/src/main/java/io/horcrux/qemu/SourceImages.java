package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.horcrux.DriverException;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The source images of a driver's disks (overlay bases, copied images, CD-ROM ISOs): the host's
 * checks before anything is written, and each image's format, found once with
 * {@code qemu-img info --backing-chain} and then always passed explicitly.
 *
 * <p>An image is refused when it is missing, not a regular file, unreadable (the owner's read
 * bit is checked even for root), inside the driver's state directory (another VM's files), not
 * an image qemu-img reads, empty, in a format outside {@link #FORMATS}, or a chain of which a
 * backing file is missing, lies in the state directory or has no recorded format (QEMU would
 * have to guess it). What {@code qemu-img} found is kept per file (real path) until the file,
 * or a file of its backing chain, changes (its inode, size or modification time): VMs made from
 * one base pay for its inspection once.
 *
 * <p>Thread-safe.
 */
final class SourceImages {
    /** The formats a source image may have: what QEMU reads without extra secrets or drivers. */
    static final Set<String> FORMATS = Set.of("raw", "qcow2", "vmdk", "vdi", "vhdx", "vpc", "qed");
    private static final int MAX_CACHED = 256;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A checked source image: its real path, its format and its virtual size. */
    record Image(Path path, String format, long virtualSize) {
    }

    /** A file as it was when inspected, to tell whether it changed since. */
    private record Stamp(Path file, Object fileKey, long size, long modifiedNanos) {
        static Stamp of(Path file) throws IOException {
            PosixFileAttributes a = Files.readAttributes(file, PosixFileAttributes.class);
            return new Stamp(file, a.fileKey(), a.size(), a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS));
        }

        boolean unchanged() {
            try {
                return equals(of(file));
            } catch (IOException e) {
                return false;
            }
        }
    }

    /** What inspecting a file found: an image, or why it is not one, and the files it depends on. */
    private record Inspection(Image image, String problem, List<Stamp> stamps) {
    }

    private final QemuImg qemuImg;
    private final Path stateDirectory;
    private final Map<Path, Inspection> inspected = new ConcurrentHashMap<>();

    SourceImages(QemuImg qemuImg, Path stateDirectory) {
        this.qemuImg = Objects.requireNonNull(qemuImg, "qemuImg");
        this.stateDirectory = realPath(stateDirectory);
    }

    /**
     * Checks every disk of the spec made from an image.
     *
     * @throws DriverException naming, for each disk refused, its field and the rule it breaks
     */
    void check(VmSpec spec) {
        check(spec, true);
    }

    /**
     * As {@link #check(VmSpec)}; without {@code copies}, only the images a running VM reads
     * (overlays' bases, CD-ROMs' ISOs): a copy's source is read once, when the copy is made.
     */
    void check(VmSpec spec, boolean copies) {
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskSpec disk = spec.disks().get(i);
            if (disk.kind() != DiskKind.EMPTY && (copies || disk.kind() != DiskKind.COPY)) {
                problem("disks[" + i + "]", disk, problems);
            }
        }
        if (!problems.isEmpty()) {
            throw new DriverException("VM '" + spec.id() + "': " + String.join("; ", problems));
        }
    }

    /**
     * The checked source image of a disk made from one.
     *
     * @throws DriverException if it is refused (see the class description)
     */
    Image image(String vmId, DiskSpec disk) {
        List<String> problems = new ArrayList<>();
        Image image = problem("disk '" + disk.name() + "'", disk, problems);
        if (image == null) {
            throw new DriverException("VM '" + vmId + "': " + String.join("; ", problems));
        }
        return image;
    }

    /** Adds what is wrong with the disk's source to {@code problems}; returns its image when nothing is. */
    private Image problem(String field, DiskSpec disk, List<String> problems) {
        Path source = Path.of(disk.source());
        String fileProblem = fileProblem(source);
        if (fileProblem != null) {
            problems.add(field + ".source: " + fileProblem);
            return null;
        }
        Inspection inspection = inspect(realPath(source));
        if (inspection.problem() != null) {
            problems.add(field + ".source: " + source + " " + inspection.problem());
            return null;
        }
        Image image = inspection.image();
        if (disk.kind() == DiskKind.CDROM && !image.format().equals("raw")) {
            problems.add(field + ".source: a CD-ROM's image must be raw (an ISO 9660 image); " + source + " is "
                    + image.format());
            return null;
        }
        if (disk.sizeBytes() != 0 && disk.sizeBytes() < image.virtualSize()) {
            problems.add(field + ".sizeBytes: must not be smaller than the source's " + image.virtualSize()
                    + " bytes, was " + disk.sizeBytes());
            return null;
        }
        return image;
    }

    /** What the file system says against the file, or null. */
    private String fileProblem(Path source) {
        String problem = io.horcrux.internal.SourceFiles.problem(source);
        if (problem != null) {
            return problem;
        }
        if (realPath(source).startsWith(stateDirectory)) {
            return "must not be inside the driver's state directory " + stateDirectory + " (another VM's files), "
                    + source + " is";
        }
        return null;
    }

    private Inspection inspect(Path real) {
        Inspection known = inspected.get(real);
        if (known != null && known.stamps().stream().allMatch(Stamp::unchanged)) {
            return known;
        }
        Inspection fresh = inspectNow(real);
        if (fresh.problem() != null) {
            inspected.remove(real); // a refusal is inspected again: the user may fix the file
            return fresh;
        }
        if (inspected.size() >= MAX_CACHED) {
            inspected.clear();
        }
        inspected.put(real, fresh);
        return fresh;
    }

    private Inspection inspectNow(Path real) {
        List<Stamp> stamps = new ArrayList<>();
        try {
            stamps.add(Stamp.of(real));
            JsonNode chain;
            try {
                chain = JSON.readTree(qemuImg.infoJson(real, true));
            } catch (DriverException e) {
                return new Inspection(null, whyUnreadable(real, e), stamps);
            }
            if (!chain.isArray() || chain.isEmpty()) {
                return new Inspection(null, "must be an image QEMU reads: qemu-img info said nothing of it", stamps);
            }
            JsonNode top = chain.get(0);
            String format = top.path("format").asText("");
            long size = top.path("virtual-size").asLong(-1);
            if (!FORMATS.contains(format)) {
                return new Inspection(null, "must be an image in a format QEMU reads here " + new java.util.TreeSet<>(FORMATS)
                        + ", is '" + format + "'", stamps);
            }
            if (size <= 0) {
                return new Inspection(null, "must be an image, is empty (virtual size " + size + ")", stamps);
            }
            for (int i = 0; i < chain.size(); i++) {
                JsonNode layer = chain.get(i);
                if (!layer.hasNonNull("backing-filename")) {
                    break;
                }
                String backing = layer.path("full-backing-filename").asText(layer.path("backing-filename").asText());
                if (!layer.hasNonNull("backing-filename-format")) {
                    return new Inspection(null, "must record the format of each backing file, so QEMU never guesses"
                            + " it; the format of " + backing + " is not recorded (qemu-img rebase -u -F <format> sets it)",
                            stamps);
                }
                Path backingPath = Path.of(backing);
                if (!backingPath.isAbsolute() || !Files.exists(backingPath)) {
                    return new Inspection(null, "has a backing file " + backing + " that does not exist", stamps);
                }
                Path backingReal = realPath(backingPath);
                if (backingReal.startsWith(stateDirectory)) {
                    return new Inspection(null, "has a backing file " + backing + " inside the driver's state directory "
                            + stateDirectory + " (another VM's files)", stamps);
                }
                stamps.add(Stamp.of(backingReal));
            }
            return new Inspection(new Image(real, format, size), null, List.copyOf(stamps));
        } catch (IOException e) {
            return new Inspection(null, "must be an image QEMU reads: " + e.getMessage(), List.copyOf(stamps));
        }
    }

    /** Why the chain could not be read: the image itself, or a backing file of it that is missing. */
    private String whyUnreadable(Path real, DriverException chainFailure) {
        try {
            JsonNode top = JSON.readTree(qemuImg.infoJson(real, false));
            String backing = top.path("full-backing-filename").asText(top.path("backing-filename").asText(""));
            if (!backing.isEmpty() && !Files.exists(Path.of(backing))) {
                return "is a " + top.path("format").asText("") + " image whose backing file " + backing
                        + " does not exist";
            }
        } catch (IOException | RuntimeException e) {
            // the image itself is unreadable: qemu-img's words for the chain say why
        }
        return "must be an image QEMU reads: " + chainFailure.getMessage();
    }

    private static Path realPath(Path path) {
        try {
            return path.toRealPath();
        } catch (IOException e) {
            return path.toAbsolutePath().normalize();
        }
    }
}
