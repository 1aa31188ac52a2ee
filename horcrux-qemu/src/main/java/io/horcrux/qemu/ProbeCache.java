package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the {@link HostProbe}'s answer so that it is paid once per host and QEMU binary: in this
 * JVM for every driver with the same question, and in a file of the state directory for the
 * next JVM. The question is the key: the QEMU binary (path, size, modification time), the
 * machine type, the requested accelerator and CPU model, whether {@code /dev/kvm} opens, the
 * payload, and the host's boot id, so a QEMU upgrade, a reboot or other settings probe anew.
 */
final class ProbeCache {
    private static final Logger log = LoggerFactory.getLogger(ProbeCache.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, HostProbe.Choice> IN_THIS_JVM = new ConcurrentHashMap<>();
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

    private final String key;
    private final Path file;

    private ProbeCache(String key, Path file) {
        this.key = key;
        this.file = file;
    }

    /** The cache of one question, kept in {@code file} as well as in memory. */
    static ProbeCache of(Path qemu, MachineType machine, Accelerator requested, String cpuModel, boolean kvmDeviceOpens,
                         Path file) {
        String binary;
        try {
            BasicFileAttributes attributes = Files.readAttributes(qemu, BasicFileAttributes.class);
            binary = qemu + ":" + attributes.size() + ":" + attributes.lastModifiedTime().toMillis();
        } catch (IOException e) {
            binary = qemu.toString();
        }
        String key = String.join("|", binary, machine.name(), requested.name(), cpuModel == null ? "" : cpuModel,
                Boolean.toString(kvmDeviceOpens), Integer.toHexString(Arrays.hashCode(ProbePayload.image())), bootId());
        return new ProbeCache(key, file);
    }

    Optional<HostProbe.Choice> get() {
        HostProbe.Choice known = IN_THIS_JVM.get(key);
        if (known != null) {
            if (!Files.exists(file)) {
                put(known); // a new state directory: the next JVM using it finds the answer too
            }
            return Optional.of(known);
        }
        try {
            JsonNode saved = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
            if (!key.equals(saved.path("key").asText())) {
                return Optional.empty();
            }
            List<HostProbe.Attempt> attempts = new ArrayList<>();
            for (JsonNode a : saved.path("attempts")) {
                attempts.add(new HostProbe.Attempt(Accelerator.valueOf(a.path("accelerator").asText()),
                        HostProbe.requireModelName(a.path("cpuModel").asText()),
                        HostProbe.Outcome.valueOf(a.path("outcome").asText()), a.path("detail").asText()));
            }
            HostProbe.Choice choice = new HostProbe.Choice(Accelerator.valueOf(saved.path("accelerator").asText()),
                    HostProbe.requireModelName(saved.path("cpuModel").asText()), attempts, saved.path("warning").asBoolean());
            IN_THIS_JVM.put(key, choice);
            return Optional.of(choice);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            log.debug("ignoring the unreadable probe cache {}: {}", file, e.toString());
            return Optional.empty();
        }
    }

    void put(HostProbe.Choice choice) {
        IN_THIS_JVM.put(key, choice);
        ObjectNode saved = JSON.createObjectNode();
        saved.put("key", key);
        saved.put("accelerator", choice.accelerator().name());
        saved.put("cpuModel", choice.cpuModel());
        saved.put("warning", choice.warning());
        ArrayNode attempts = saved.putArray("attempts");
        for (HostProbe.Attempt a : choice.attempts()) {
            attempts.addObject().put("accelerator", a.accelerator().name()).put("cpuModel", a.cpuModel())
                    .put("outcome", a.outcome().name()).put("detail", a.detail());
        }
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try {
            Files.deleteIfExists(partial);
            Files.createFile(partial, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_FILE));
            Files.writeString(partial, JSON.writeValueAsString(saved), StandardCharsets.UTF_8);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            log.debug("cannot keep the probe's answer in {}: {}", file, e.toString());
        }
    }

    /** Forgets every answer kept in this JVM; for tests that must probe for real. */
    static void forgetAll() {
        IN_THIS_JVM.clear();
    }

    private static String bootId() {
        try {
            return Files.readString(BOOT_ID, StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            return "unknown-boot";
        }
    }
}
