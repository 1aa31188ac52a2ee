package io.horcrux.qemu;

import io.horcrux.internal.HostProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.horcrux.DriverException;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tries probe candidates on the real QEMU: each one is a short-lived QEMU (not daemonized, our
 * child) that boots the {@link ProbePayload} with the driver's machine type, and ends on its
 * own through {@code isa-debug-exit}, or is killed once it shows it cannot run the guest (a KVM
 * internal error, a hang past the timeout). No QEMU outlives a call; one left by a JVM killed in
 * the middle of a probe is found by its payload's path and killed when the next probe begins.
 */
final class QemuProbeRunner implements HostProbe.Runner {
    private static final Logger log = LoggerFactory.getLogger(QemuProbeRunner.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What QEMU prints when KVM stops a guest it cannot run; QEMU then keeps the process, paused. */
    static final String KVM_INTERNAL_ERROR = "KVM internal error";
    private static final int MAX_OUTPUT_BYTES = 64 * 1024;

    private final Path qemu;
    private final MachineType machine;
    private final Path payload;
    private final Duration timeout;

    /**
     * @param workDirectory a directory of the driver's own, where the payload is written
     * @param timeout       how long one candidate may take before it counts as a hang
     */
    QemuProbeRunner(Path qemu, MachineType machine, Path workDirectory, Duration timeout) {
        this.qemu = qemu;
        this.machine = machine;
        this.timeout = timeout;
        this.payload = workDirectory.resolve("probe-payload.bin");
        killLeftovers();
        try {
            ProbePayload.writeTo(payload);
        } catch (IOException e) {
            throw new DriverException("cannot write the accelerator probe's payload " + payload + ": " + e, e);
        }
    }

    @Override
    public HostProbe.Attempt run(Accelerator accelerator, String cpuModel) {
        List<String> args = List.of(qemu.toString(), "-machine", machine.qemuName(), "-accel", accelerator.qemuName(),
                "-cpu", cpuModel, "-m", ProbePayload.MEMORY_MIB + "M", "-nodefaults", "-no-user-config",
                "-display", "none", "-no-reboot", "-device", "isa-debug-exit", "-kernel", payload.toString());
        long started = System.nanoTime();
        Process process = start(args);
        try {
            ByteArrayOutputStream output = new ByteArrayOutputStream();
            InputStream in = process.getInputStream();
            long deadline = started + timeout.toNanos();
            while (!process.waitFor(10, TimeUnit.MILLISECONDS)) {
                drain(in, output, false);
                String text = output.toString(StandardCharsets.UTF_8);
                if (text.contains(KVM_INTERNAL_ERROR)) {
                    return attempt(accelerator, cpuModel, HostProbe.Outcome.GUEST_FAILED, internalError(text), started);
                }
                if (System.nanoTime() - deadline >= 0) {
                    return attempt(accelerator, cpuModel, HostProbe.Outcome.GUEST_FAILED,
                            "the guest code did not finish within " + timeout.toMillis() + " ms", started);
                }
            }
            drain(in, output, true);
            return classifyExit(accelerator, cpuModel, process.exitValue(), output.toString(StandardCharsets.UTF_8),
                    started);
        } catch (IOException e) {
            throw new DriverException("cannot read the output of the accelerator probe's QEMU: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("interrupted while probing " + accelerator + " -cpu " + cpuModel, e);
        } finally {
            end(process);
        }
    }

    private HostProbe.Attempt classifyExit(Accelerator accelerator, String cpuModel, int status, String output,
                                           long started) {
        if (ProbePayload.ranToTheEnd(status)) {
            return attempt(accelerator, cpuModel, HostProbe.Outcome.RAN, "", started);
        }
        if (status == 0) {
            return attempt(accelerator, cpuModel, HostProbe.Outcome.GUEST_FAILED,
                    "the guest code faulted (the CPU model lacks long mode or an instruction it offers)", started);
        }
        String words = QemuOutput.firstErrors(output, 3);
        String detail = words.isEmpty() ? "QEMU exited with status " + status : words;
        boolean unknown = output.contains("unable to find CPU model") || output.contains("CPU model '" + cpuModel + "'");
        return attempt(accelerator, cpuModel, unknown ? HostProbe.Outcome.UNKNOWN_MODEL : HostProbe.Outcome.REFUSED,
                detail, started);
    }

    private static HostProbe.Attempt attempt(Accelerator accelerator, String cpuModel, HostProbe.Outcome outcome,
                                             String detail, long started) {
        log.debug("probe {} -cpu {}: {} in {} ms {}", accelerator, cpuModel, outcome,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), detail);
        return new HostProbe.Attempt(accelerator, cpuModel, outcome, detail);
    }

    /** {@code "KVM internal error. Suberror: 1"} and, when QEMU says it, {@code "emulation failure"}. */
    private static String internalError(String output) {
        int at = output.indexOf(KVM_INTERNAL_ERROR);
        String line = output.substring(at).lines().findFirst().orElse(KVM_INTERNAL_ERROR).strip();
        return output.contains("emulation failure") ? line + " (emulation failure)" : line;
    }

    /**
     * The CPU models without {@code unavailable-features} under KVM, from
     * {@code query-cpu-definitions} on a QEMU with no machine (so no CPU is created).
     */
    @Override
    public List<String> usableKvmModels() {
        List<String> args = List.of(qemu.toString(), "-machine", "none", "-accel", "kvm", "-nodefaults",
                "-no-user-config", "-display", "none", "-qmp", "stdio");
        Process process = start(args, ProcessBuilder.Redirect.PIPE);
        try {
            try (OutputStream commands = process.getOutputStream()) {
                commands.write(("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-cpu-definitions\"}\n"
                        + "{\"execute\":\"quit\"}\n").getBytes(StandardCharsets.US_ASCII));
            }
            ByteArrayOutputStream output = new ByteArrayOutputStream();
            InputStream in = process.getInputStream();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!process.waitFor(10, TimeUnit.MILLISECONDS) && System.nanoTime() - deadline < 0) {
                drain(in, output, false);
            }
            drain(in, output, !process.isAlive());
            List<String> usable = new ArrayList<>();
            for (String line : output.toString(StandardCharsets.UTF_8).split("\\R")) {
                JsonNode reply = parse(line);
                if (reply.path("return").isArray()) {
                    for (JsonNode model : reply.path("return")) {
                        if (model.path("unavailable-features").isEmpty()) {
                            usable.add(model.path("name").asText());
                        }
                    }
                }
            }
            return usable;
        } catch (IOException e) {
            log.debug("query-cpu-definitions under KVM failed: {}", e.toString());
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException("interrupted while asking QEMU for its CPU models", e);
        } finally {
            end(process);
        }
    }

    private static JsonNode parse(String line) {
        try {
            return line.isBlank() ? JSON.missingNode() : JSON.readTree(line);
        } catch (IOException e) {
            return JSON.missingNode();
        }
    }

    private Process start(List<String> args) {
        return start(args, ProcessBuilder.Redirect.from(new File("/dev/null")));
    }

    private Process start(List<String> args, ProcessBuilder.Redirect input) {
        try {
            return new ProcessBuilder(args).redirectInput(input).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new DriverException("cannot run " + qemu + " for the accelerator probe: " + e, e);
        }
    }

    /** Reads what is there (all of it, up to the cap, when {@code toEnd}) without blocking on a live process. */
    private static void drain(InputStream in, ByteArrayOutputStream output, boolean toEnd) throws IOException {
        byte[] buffer = new byte[8192];
        while (toEnd || in.available() > 0) {
            int n = in.read(buffer, 0, toEnd ? buffer.length : Math.min(buffer.length, in.available()));
            if (n < 0) {
                return;
            }
            if (output.size() < MAX_OUTPUT_BYTES) {
                output.write(buffer, 0, Math.min(n, MAX_OUTPUT_BYTES - output.size()));
            }
        }
    }

    private static void end(Process process) {
        if (!process.isAlive()) {
            return;
        }
        process.destroyForcibly();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                log.warn("the accelerator probe's QEMU (pid {}) did not end after SIGKILL", process.pid());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Kills probe QEMUs of this directory that a JVM killed in the middle of a probe left behind. */
    private void killLeftovers() {
        String path = payload.toString();
        for (long pid : HostProcess.find(args -> args.contains(path))) {
            HostProcess.stat(pid).ifPresent(stat -> {
                log.info("killing a leftover accelerator probe QEMU (pid {})", pid);
                HostProcess.signal(pid, stat.startTicks(), true);
            });
        }
    }
}
