package io.horcrux.qemu;

import io.horcrux.DriverException;
import java.io.File;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host programs a driver runs and what they can do, found and checked once at build: the
 * QEMU binary (and whether it supports {@code -sandbox}), the {@code qemu-img} binary, and the
 * user QEMU may switch to.
 *
 * @param sandbox whether QEMU was built with seccomp, so {@code -sandbox} may be passed
 */
record QemuBinaries(Path qemu, QemuImg qemuImg, boolean sandbox) {
    private static final Logger log = LoggerFactory.getLogger(QemuBinaries.class);

    /**
     * Finds the binaries (on {@code PATH} when not given), checks they run, and checks that
     * {@code runAs} (when not null) can be honoured.
     *
     * @throws DriverException naming what is missing and the Debian package that has it
     */
    static QemuBinaries locate(Path qemuBinary, Path qemuImgBinary, String runAs) {
        Path qemu = executable(qemuBinary, "qemu-system-x86_64", "QEMU", "qemu-system-x86");
        Path img = executable(qemuImgBinary, "qemu-img", "qemu-img", "qemu-utils");
        if (runAs != null) {
            checkRunAs(runAs);
        }
        return new QemuBinaries(qemu, QemuImg.at(img), probeSandbox(qemu));
    }

    private static Path executable(Path given, String name, String what, String debianPackage) {
        Path path = given;
        if (path == null) {
            path = findOnPath(name).orElseThrow(() -> new DriverException(what + " binary '" + name
                    + "' was not found on PATH; install it (Debian/Ubuntu: apt-get install " + debianPackage
                    + ") or set its path in the builder"));
        }
        path = path.toAbsolutePath().normalize();
        QemuCommandLine.requireSafePath(what + " binary", path);
        if (!Files.isRegularFile(path)) {
            throw new DriverException(what + " binary " + path + " does not exist or is not a file"
                    + " (Debian/Ubuntu package: " + debianPackage + ")");
        }
        if (!Files.isExecutable(path)) {
            throw new DriverException(what + " binary " + path + " is not executable");
        }
        return path;
    }

    static Optional<Path> findOnPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    private static void checkRunAs(String user) {
        try {
            FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(user);
        } catch (UserPrincipalNotFoundException e) {
            throw new DriverException("runAs user '" + user + "' does not exist on this host");
        } catch (IOException e) {
            throw new DriverException("cannot look up runAs user '" + user + "': " + e, e);
        }
        Object uid;
        try {
            uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | UnsupportedOperationException e) {
            throw new DriverException("cannot tell which user this JVM runs as, needed for runAs: " + e, e);
        }
        if (!Integer.valueOf(0).equals(uid)) {
            throw new DriverException("runAs '" + user + "' needs the JVM to run as root (uid 0), so that QEMU"
                    + " can switch to that user; this JVM runs as uid " + uid);
        }
    }

    /** Runs {@code qemu -sandbox on -version}: QEMU rejects {@code -sandbox} when built without seccomp. */
    private static boolean probeSandbox(Path qemu) {
        if (runs(qemu, "-sandbox", "on", "-version")) {
            return true;
        }
        if (runs(qemu, "-version")) {
            log.info("{} does not support -sandbox (built without seccomp); VMs run without it", qemu);
            return false;
        }
        throw new DriverException("QEMU binary " + qemu + " does not run ('" + qemu + " -version' failed)");
    }

    private static boolean runs(Path binary, String... args) {
        List<String> command = new ArrayList<>();
        command.add(binary.toString());
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("interrupted while checking " + binary, e);
        }
    }
}
