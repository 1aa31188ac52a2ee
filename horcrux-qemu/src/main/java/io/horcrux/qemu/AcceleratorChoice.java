package io.horcrux.qemu;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the {@link HostProbe} (or its {@link ProbeCache}) what a new driver's VMs run with, and
 * says so in the log: INFO for the choice and what was refused on the way; WARN for a fall-back
 * to TCG although {@code /dev/kvm} opens, or for an explicit model whose guest code fails.
 */
final class AcceleratorChoice {
    private static final Logger log = LoggerFactory.getLogger(AcceleratorChoice.class);
    /** How long one probe candidate may take; a working one takes well under a second. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);
    private static final Path KVM_DEVICE = Path.of("/dev/kvm");

    private AcceleratorChoice() {
    }

    /**
     * @param cpuModel    the explicit model, or null to let the probe choose
     * @param kvmDevice   replaces the {@code /dev/kvm} check, or null
     * @param probeRunner replaces the QEMU runs and the cache, or null
     */
    static HostProbe.Choice choose(Accelerator requested, String cpuModel, MachineType machine, Path qemu,
                                   StateDirectory state, BooleanSupplier kvmDevice, HostProbe.Runner probeRunner) {
        boolean kvmOpens = kvmDevice == null ? kvmUsable(KVM_DEVICE) : kvmDevice.getAsBoolean();
        HostProbe.Choice choice;
        boolean cached = false;
        if (probeRunner != null) {
            choice = new HostProbe(probeRunner, kvmOpens).choose(requested, cpuModel);
        } else {
            Path work = state.probeDirectory();
            ProbeCache cache = ProbeCache.of(qemu, machine, requested, cpuModel, kvmOpens, work.resolve("choice.json"));
            Optional<HostProbe.Choice> known = cache.get();
            cached = known.isPresent();
            if (known.isPresent()) {
                choice = known.get();
            } else {
                long started = System.nanoTime();
                QemuProbeRunner runner = new QemuProbeRunner(qemu, machine, work, PROBE_TIMEOUT);
                choice = new HostProbe(runner, kvmOpens).choose(requested, cpuModel);
                log.debug("accelerator probe took {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
                cache.put(choice);
            }
        }
        String from = cached ? " [probed earlier on this host]" : "";
        if (!kvmOpens && choice.accelerator() == Accelerator.TCG) {
            log.info("/dev/kvm is not usable; QEMU will run guests with TCG (software emulation, much slower): {}{}",
                    choice.summary(), from);
        } else if (choice.warning() && choice.accelerator() == Accelerator.TCG) {
            log.warn("/dev/kvm opens but KVM runs no guest code on this host; QEMU will run guests with TCG"
                    + " (software emulation, much slower): {}{}", choice.summary(), from);
        } else if (choice.warning()) {
            log.warn("CPU model {} starts under KVM but cannot run guest code here; its guests will crash: {}{}",
                    choice.cpuModel(), choice.summary(), from);
        } else {
            log.info("QEMU driver: {}{}", choice.summary(), from);
        }
        return choice;
    }

    /** Whether {@code /dev/kvm} (or the given device) opens for reading and writing. */
    static boolean kvmUsable(Path device) {
        try (FileChannel channel = FileChannel.open(device, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            return channel.isOpen();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }
}
