package io.horcrux.qemu;

import io.horcrux.internal.HostProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells whether a host process is the QEMU of a given VM under a given state directory: its
 * arguments name the VM ({@code -name guest=<id>,...}), its pidfile and the driver's monitor
 * socket. A pid in a pidfile is only trusted after that check, so a pid reused by another
 * process is never taken for a VM.
 */
final class QemuIdentity {
    private static final Logger log = LoggerFactory.getLogger(QemuIdentity.class);

    private QemuIdentity() {
    }

    /** The pid in the VM's pidfile, if that process is alive and is this VM's QEMU. */
    static Optional<Long> liveProcess(VmFiles files) {
        return readPid(files.pidFile()).filter(pid -> HostProcess.stat(pid).filter(s -> !s.isZombie()).isPresent()
                && isOurs(HostProcess.commandLine(pid), files));
    }

    /** Every live QEMU of this VM, found by its arguments: for one that removed its pidfile as it exits. */
    static List<Long> findByArguments(VmFiles files) {
        return HostProcess.find(args -> isOurs(args, files));
    }

    static boolean isOurs(List<String> args, VmFiles files) {
        String id = files.directory().getFileName().toString();
        boolean named = false;
        boolean pidFile = false;
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).equals("-name") && args.get(i + 1).startsWith("guest=" + id + ",")) {
                named = true;
            }
            if (args.get(i).equals("-pidfile") && args.get(i + 1).equals(files.pidFile().toString())) {
                pidFile = true;
            }
        }
        return named && pidFile && args.contains(QemuCommandLine.monitorChardev("qmp", files.qmpSocket()));
    }

    static Optional<Long> readPid(Path pidFile) {
        try {
            String text = Files.readString(pidFile, StandardCharsets.US_ASCII).strip();
            return text.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(text));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | NumberFormatException e) {
            log.warn("unreadable pidfile {}: {}", pidFile, e.toString());
            return Optional.empty();
        }
    }
}
