package io.horcrux.qemu;

import io.horcrux.DriverException;
import io.horcrux.model.CloudInit;
import io.horcrux.model.VmSpec;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a VM's cloud-init NoCloud seed: an ISO 9660 image with Joliet and Rock Ridge names,
 * volume label {@code cidata}, holding {@code user-data}, {@code meta-data} and, when given,
 * {@code network-config}, the layout cloud-init's NoCloud source reads (and what Ubuntu's
 * {@code cloud-localds} makes). The image is made by {@code genisoimage} (Debian package
 * {@code genisoimage}; {@code xorrisofs} or {@code mkisofs} serve too), run with an argument list,
 * never a shell, on files the driver writes itself into a private directory of the VM's.
 *
 * <p>The seed is rebuilt at start only when what it should hold changed: a digest of its inputs
 * is kept beside it. It is replaced by an atomic rename, so a half-built image is never attached;
 * a failed build leaves the previous seed, and no temporary file.
 */
final class CloudInitSeed {
    private static final Logger log = LoggerFactory.getLogger(CloudInitSeed.class);
    static final String LABEL = "cidata";
    private static final List<String> TOOLS = List.of("genisoimage", "xorrisofs", "mkisofs");
    private static final long TIMEOUT_SECONDS = 60;

    private final Path tool; // null: none found

    private CloudInitSeed(Path tool) {
        this.tool = tool;
    }

    /** Finds the image tool on {@code PATH}; a driver without one refuses specs with cloud-init. */
    static CloudInitSeed locate() {
        for (String name : TOOLS) {
            Optional<Path> found = QemuBinaries.findOnPath(name);
            if (found.isPresent()) {
                Path path = found.get().toAbsolutePath().normalize();
                QemuCommandLine.requireSafePath(name, path);
                return new CloudInitSeed(path);
            }
        }
        return new CloudInitSeed(null);
    }

    /** The tool, when found. */
    Optional<Path> tool() {
        return Optional.ofNullable(tool);
    }

    /**
     * @throws DriverException if the spec has cloud-init and no image tool was found
     */
    void check(VmSpec spec) {
        if (spec.cloudInit() != null && tool == null) {
            throw new DriverException("VM '" + spec.id() + "' has cloud-init, whose seed image is built with genisoimage,"
                    + " which was not found on PATH (also looked for xorrisofs and mkisofs); install it (Debian/Ubuntu:"
                    + " apt-get install genisoimage)");
        }
    }

    /**
     * Makes the seed match the spec before a start: built when missing or when its inputs
     * changed, removed when the spec has no cloud-init.
     *
     * @throws DriverException if the image cannot be built, with the tool's words
     */
    void prepare(VmSpec spec, VmFiles files) {
        Path seed = files.cloudInitSeed();
        Path digestFile = files.cloudInitDigest();
        try {
            if (spec.cloudInit() == null) {
                Files.deleteIfExists(seed);
                Files.deleteIfExists(digestFile);
                return;
            }
            check(spec);
            String digest = digest(spec);
            if (Files.isRegularFile(seed, LinkOption.NOFOLLOW_LINKS) && Files.isRegularFile(digestFile, LinkOption.NOFOLLOW_LINKS)
                    && Files.readString(digestFile, StandardCharsets.UTF_8).strip().equals(digest)) {
                return;
            }
            build(spec, files, digest);
        } catch (IOException e) {
            throw new DriverException("VM '" + spec.id() + "': cannot write its cloud-init seed " + seed + ": " + e, e);
        }
    }

    private void build(VmSpec spec, VmFiles files, String digest) throws IOException {
        long started = System.nanoTime();
        CloudInit ci = spec.cloudInit();
        Path staging = files.directory().resolve(".cidata-build");
        Path partial = files.directory().resolve(".seed.cidata.iso.partial");
        StateDirectory.deleteTree(staging);
        Files.deleteIfExists(partial);
        Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_DIR));
        try {
            List<String> args = new ArrayList<>(List.of(tool.toString(), "-o", partial.toString(), "-V", LABEL,
                    "-J", "-R", "-quiet"));
            args.add(write(staging, "user-data", ci.userData()).toString());
            args.add(write(staging, "meta-data", ci.metaDataFor(spec.id())).toString());
            if (ci.networkConfig() != null) {
                args.add(write(staging, "network-config", ci.networkConfig()).toString());
            }
            run(spec.id(), args, staging);
            Files.setPosixFilePermissions(partial, VmFiles.OWNER_ONLY_FILE);
            Files.move(partial, files.cloudInitSeed(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Path digestPartial = write(staging, "digest", digest + "\n");
            Files.move(digestPartial, files.cloudInitDigest(), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
            log.info("VM {}: cloud-init seed {} built with {} in {} ms", spec.id(), files.cloudInitSeed(),
                    tool.getFileName(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        } finally {
            StateDirectory.deleteTree(staging);
            Files.deleteIfExists(partial);
        }
    }

    private void run(String vmId, List<String> args, Path workDirectory) throws IOException {
        Path output = workDirectory.resolve("tool.log");
        Process p = new ProcessBuilder(args)
                .directory(workDirectory.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        try {
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                throw new DriverException("VM '" + vmId + "': " + tool.getFileName() + " did not build the cloud-init seed"
                        + " within " + TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new DriverException("VM '" + vmId + "': interrupted while building the cloud-init seed", e);
        }
        if (p.exitValue() != 0) {
            String said = Files.exists(output) ? Files.readString(output, StandardCharsets.UTF_8).strip() : "";
            if (said.length() > 500) {
                said = said.substring(0, 500) + "...";
            }
            throw new DriverException("VM '" + vmId + "': " + tool + " failed to build the cloud-init seed (exit "
                    + p.exitValue() + ")" + (said.isEmpty() ? "" : ": " + said));
        }
    }

    private static Path write(Path directory, String name, String content) throws IOException {
        Path file = directory.resolve(name);
        Files.writeString(Files.createFile(file, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_FILE)), content,
                StandardCharsets.UTF_8);
        return file;
    }

    /** A digest of what the seed holds and how it is laid out; equal inputs give an equal digest. */
    static String digest(VmSpec spec) {
        CloudInit ci = spec.cloudInit();
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String part : new String[] {"horcrux-cidata-1", LABEL, ci.userData(), ci.metaDataFor(spec.id()),
                    ci.networkConfig() == null ? "\u0000none" : ci.networkConfig()}) {
                byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
                sha.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
                sha.update((byte) ':');
                sha.update(bytes);
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
