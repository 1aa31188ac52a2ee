package io.horcrux.model;

import io.horcrux.InvalidVmSpecException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The desired configuration of a VM: what the manager stores and what a driver starts.
 * Immutable and always valid: every way of making one (the {@link #builder() builder}, the
 * canonical constructor, JSON import) checks all the rules below and throws one
 * {@link InvalidVmSpecException} listing every violation.
 *
 * <table>
 *   <caption>Rules</caption>
 *   <tr><th>field</th><th>rule</th></tr>
 *   <tr><td>id</td><td>{@code [a-z0-9][a-z0-9-]{0,62}}; safe in file names, command lines and SQL</td></tr>
 *   <tr><td>name</td><td>1 to 128 characters, no control characters; defaults to the id</td></tr>
 *   <tr><td>memoryMiB</td><td>{@value #MIN_MEMORY_MIB} to {@value #MAX_MEMORY_MIB}
 *       (a {@code VmManager} may set a lower maximum)</td></tr>
 *   <tr><td>cpus</td><td>1 to {@value #MAX_CPUS}</td></tr>
 *   <tr><td>disks</td><td>at most {@value #MAX_DISKS}; unique names; sizes positive multiples of
 *       512 from {@value #MIN_DISK_BYTES} to {@value #MAX_DISK_BYTES} bytes (or 0, the source's
 *       size, for an overlay or a copy; always 0 for a CD-ROM); a source image, as an absolute,
 *       normalised path, exactly for overlays, copies and CD-ROMs; overlays QCOW2 and writable,
 *       CD-ROMs RAW and read-only</td></tr>
 *   <tr><td>nics</td><td>at most {@value #MAX_NICS}; unique names; unique unicast MACs, generated
 *       when absent</td></tr>
 *   <tr><td>labels</td><td>at most {@value #MAX_LABELS}; keys {@code [A-Za-z0-9][A-Za-z0-9._/-]{0,62}};
 *       values at most 255 characters without control characters</td></tr>
 *   <tr><td>boot</td><td>kernel and initrd absolute, normalised paths without control
 *       characters; initrd and cmdline only with a kernel</td></tr>
 *   <tr><td>nics[i].forwards</td><td>on user-mode NICs only; host ports 0 (chosen at start) to
 *       65535, guest ports 1 to 65535, host addresses dotted IPv4 literals; unique within the VM
 *       (no two on the same protocol, host address and fixed host port); see {@link PortForward}</td></tr>
 *   <tr><td>nics[i].tapDevice</td><td>on tap NICs only, and there required: {@value NicSpec#TAP_DEVICE_RULE};
 *       unique within the VM</td></tr>
 *   <tr><td>cloudInit</td><td>optional; sizes and the shape of meta-data and network-config as
 *       {@link CloudInit} says</td></tr>
 * </table>
 *
 * <pre>{@code
 * VmSpec spec = VmSpec.builder()
 *     .id("web-1").name("Web 1")
 *     .memoryMiB(256).cpus(1)
 *     .disk(DiskSpec.qcow2("root", 1L << 30))
 *     .label("env", "test")
 *     .build();
 * }</pre>
 */
public record VmSpec(
        String id,
        String name,
        long memoryMiB,
        int cpus,
        Architecture architecture,
        List<DiskSpec> disks,
        List<NicSpec> nics,
        Map<String, String> labels,
        BootSpec boot,
        CloudInit cloudInit) {

    public static final long MIN_MEMORY_MIB = 16;
    public static final long MAX_MEMORY_MIB = 16L * 1024 * 1024;
    public static final int MAX_CPUS = 1024;
    public static final int MAX_DISKS = 16;
    public static final int MAX_NICS = 8;
    public static final int MAX_LABELS = 64;
    public static final int MAX_NAME_LENGTH = 128;
    public static final long MIN_DISK_BYTES = 1L << 20;
    public static final long MAX_DISK_BYTES = 1L << 46;
    /**
     * The label that marks a VM for automatic restart by the host that takes it over when its
     * owner dies (value {@code "true"}); see {@link #restartOnTakeover()}.
     */
    public static final String RESTART_ON_TAKEOVER_LABEL = "horcrux.io/restart-on-takeover";
    private static final int MAX_PATH_LENGTH = 4096;
    private static final SecureRandom MAC_RANDOM = new SecureRandom();

    /** A spec without cloud-init: the form before {@link CloudInit} existed. */
    public VmSpec(String id, String name, long memoryMiB, int cpus, Architecture architecture, List<DiskSpec> disks,
                  List<NicSpec> nics, Map<String, String> labels, BootSpec boot) {
        this(id, name, memoryMiB, cpus, architecture, disks, nics, labels, boot, null);
    }

    /**
     * Checks every rule and normalises: {@code name} defaults to the id, lists and maps are
     * copied immutably (labels sorted by key), MACs are lower-cased or generated.
     *
     * @throws InvalidVmSpecException listing every violation
     */
    public VmSpec {
        List<Violation> violations = new ArrayList<>();
        checkId(id, violations);
        if (name == null) {
            name = id; // valid exactly when the id is, and the id's violation says why
        } else {
            checkName(name, violations);
        }
        if (memoryMiB < MIN_MEMORY_MIB || memoryMiB > MAX_MEMORY_MIB) {
            violations.add(new Violation("memoryMiB", "must be between " + MIN_MEMORY_MIB + " and " + MAX_MEMORY_MIB
                    + " MiB, was " + memoryMiB));
        }
        if (cpus < 1 || cpus > MAX_CPUS) {
            violations.add(new Violation("cpus", "must be between 1 and " + MAX_CPUS + ", was " + cpus));
        }
        if (architecture == null) {
            violations.add(new Violation("architecture", "must not be null"));
        }
        disks = checkDisks(disks, violations);
        nics = checkNics(nics, violations);
        labels = checkLabels(labels, violations);
        if (boot == null) {
            boot = BootSpec.defaults();
        }
        checkBoot(boot, violations);
        if (cloudInit != null) {
            CloudInitRules.check(cloudInit, violations);
        }
        if (!violations.isEmpty()) {
            throw new InvalidVmSpecException(violations);
        }
    }

    /** A builder with the defaults: 1 vCPU, 256 MiB, x86_64, no disks, no NICs, no labels. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder that starts from this spec, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder().id(id).name(name).memoryMiB(memoryMiB).cpus(cpus).architecture(architecture).boot(boot);
        disks.forEach(b::disk);
        nics.forEach(b::nic);
        labels.forEach(b::label);
        if (cloudInit != null) {
            b.cloudInit(cloudInit);
        }
        return b;
    }

    /**
     * Whether {@code id} is a valid VM id: {@code [a-z0-9][a-z0-9-]{0,62}}. Drivers check names
     * they read back (directory names, say) with it before they reach a file name or command line.
     */
    public static boolean isValidId(String id) {
        return SpecRules.isId(id);
    }

    /**
     * Returns {@code id} if it {@link #isValidId is a valid VM id}.
     *
     * @throws IllegalArgumentException naming the rule and the id (control characters shown as {@code ?})
     */
    public static String requireValidId(String id) {
        if (!isValidId(id)) {
            throw new IllegalArgumentException("id " + SpecRules.ID_RULE + "; was "
                    + (id == null ? "null" : "'" + id.replaceAll("\\p{Cntrl}", "?") + "'"));
        }
        return id;
    }

    private static void checkId(String id, List<Violation> violations) {
        if (id == null || id.isBlank()) {
            violations.add(new Violation("id", "must not be blank"));
        } else if (!SpecRules.isId(id)) {
            violations.add(new Violation("id", SpecRules.ID_RULE));
        }
    }

    private static void checkName(String name, List<Violation> violations) {
        if (name == null || name.isBlank()) {
            violations.add(new Violation("name", "must not be blank"));
            return;
        }
        if (name.length() > MAX_NAME_LENGTH) {
            violations.add(new Violation("name", "must be at most " + MAX_NAME_LENGTH + " characters, was " + name.length()));
        }
        if (SpecRules.hasControlCharacter(name)) {
            violations.add(new Violation("name", "must not contain control characters"));
        }
    }

    private static List<DiskSpec> checkDisks(List<DiskSpec> disks, List<Violation> violations) {
        if (disks == null) {
            return List.of();
        }
        if (disks.size() > MAX_DISKS) {
            violations.add(new Violation("disks", "at most " + MAX_DISKS + " disks, was " + disks.size()));
        }
        // A valid spec (every stored one, read again) allocates nothing here it does not keep:
        // a VM has a handful of parts, so a repeated name is looked for among the parts before.
        boolean nulls = false;
        for (int i = 0; i < disks.size(); i++) {
            DiskSpec disk = disks.get(i);
            if (disk == null) {
                violations.add(new Violation("disks[" + i + "]", "must not be null"));
                nulls = true;
                continue;
            }
            checkPartName("disks", i, disks, DiskSpec::name, violations);
            long size = disk.sizeBytes();
            if (disk.kind() == DiskKind.EMPTY && disk.source() != null) {
                violations.add(new Violation("disks[" + i + "].source", "an empty disk has no source image; use"
                        + " DiskSpec.overlay, copyOf or cdrom"));
            }
            if (disk.kind() != DiskKind.EMPTY) {
                checkSourcedDisk("disks[" + i + "]", disk, violations);
                if (size == 0 || disk.kind() == DiskKind.CDROM) {
                    continue; // the source's size
                }
            }
            if (size < MIN_DISK_BYTES || size > MAX_DISK_BYTES) {
                violations.add(new Violation("disks[" + i + "].sizeBytes", "must be between " + MIN_DISK_BYTES + " and "
                        + MAX_DISK_BYTES + " bytes, was " + size));
            } else if (size % 512 != 0) {
                violations.add(new Violation("disks[" + i + "].sizeBytes", "must be a multiple of 512, was " + size));
            }
        }
        return nulls ? List.copyOf(disks.stream().filter(d -> d != null).toList()) : List.copyOf(disks);
    }

    /** The rules of a disk made from a source image: a valid source, and what its kind allows. */
    private static void checkSourcedDisk(String field, DiskSpec disk, List<Violation> violations) {
        if (disk.source() == null) {
            violations.add(new Violation(field + ".source", "an overlay, a copy or a CD-ROM needs a source image"));
        } else {
            checkHostPath(field + ".source", disk.source(), violations);
        }
        switch (disk.kind()) {
            case OVERLAY -> {
                if (disk.format() != DiskFormat.QCOW2) {
                    violations.add(new Violation(field + ".format", "an overlay is a QCOW2 image, was " + disk.format()));
                }
                if (disk.readOnly()) {
                    violations.add(new Violation(field + ".readOnly", "an overlay is for writes; attach a read-only"
                            + " base as a copy or a CD-ROM instead"));
                }
            }
            case CDROM -> {
                if (disk.format() != DiskFormat.RAW) {
                    violations.add(new Violation(field + ".format", "a CD-ROM is read as RAW, was " + disk.format()));
                }
                if (!disk.readOnly()) {
                    violations.add(new Violation(field + ".readOnly", "a CD-ROM is read-only"));
                }
                if (disk.sizeBytes() != 0) {
                    violations.add(new Violation(field + ".sizeBytes", "a CD-ROM has its image's size: must be 0, was "
                            + disk.sizeBytes()));
                }
            }
            default -> {
            }
        }
    }

    private static List<NicSpec> checkNics(List<NicSpec> nics, List<Violation> violations) {
        if (nics == null) {
            return List.of();
        }
        if (nics.size() > MAX_NICS) {
            violations.add(new Violation("nics", "at most " + MAX_NICS + " NICs, was " + nics.size()));
        }
        NetworkRules network = null; // made for the first NIC with something to check: a plain one has nothing
        // A copy only once a NIC differs from the one given (a MAC made or lower-cased, a null
        // dropped): a stored spec read again keeps the list it was given.
        List<NicSpec> normalised = null;
        for (int i = 0; i < nics.size(); i++) {
            NicSpec nic = nics.get(i);
            if (nic == null) {
                violations.add(new Violation("nics[" + i + "]", "must not be null"));
                normalised = normalised != null ? normalised : new ArrayList<>(nics.subList(0, i));
                continue;
            }
            checkPartName("nics", i, nics, NicSpec::name, violations);
            String mac = nic.mac() == null ? generateMac(nics, normalised, i) : nic.mac().toLowerCase(Locale.ROOT);
            if (!SpecRules.isMac(mac)) {
                violations.add(new Violation("nics[" + i + "].mac", "must be six hex octets separated by ':', was '"
                        + printable(nic.mac()) + "'"));
            } else if ((Character.digit(mac.charAt(1), 16) & 1) != 0) { // the first octet's low bit
                violations.add(new Violation("nics[" + i + "].mac", "must be a unicast address (first octet even), was "
                        + mac));
            } else if (macTaken(mac, nics, normalised, i)) {
                violations.add(new Violation("nics[" + i + "].mac", "must be unique within the VM, " + mac
                        + " is repeated"));
            }
            if (NetworkRules.appliesTo(nic)) {
                network = network != null ? network : new NetworkRules();
                network.check("nics[" + i + "]", nic, violations);
            }
            NicSpec checked = mac.equals(nic.mac()) ? nic : new NicSpec(nic.name(), mac, nic.mode(), nic.tapDevice(),
                    nic.forwards());
            if (normalised == null && checked != nic) {
                normalised = new ArrayList<>(nics.subList(0, i));
            }
            if (normalised != null) {
                normalised.add(checked);
            }
        }
        return List.copyOf(normalised == null ? nics : normalised);
    }

    /**
     * Whether a NIC before {@code nics[index]} has {@code mac} (lower-cased): those in
     * {@code normalised} once it exists, else the ones given, which are then unchanged.
     */
    private static boolean macTaken(String mac, List<NicSpec> nics, List<NicSpec> normalised, int index) {
        List<NicSpec> before = normalised != null ? normalised : nics;
        int count = normalised != null ? normalised.size() : index;
        for (int j = 0; j < count; j++) {
            if (mac.equals(before.get(j).mac())) {
                return true;
            }
        }
        return false;
    }

    /** Checks the name of {@code parts[index]} against the rule and the names of the parts before it. */
    private static <T> void checkPartName(String kind, int index, List<T> parts, Function<T, String> nameOf,
                                          List<Violation> violations) {
        String name = nameOf.apply(parts.get(index));
        if (!SpecRules.isPartName(name)) {
            violations.add(new Violation(kind + "[" + index + "].name", SpecRules.PART_NAME_RULE + ", was '"
                    + printable(name) + "'"));
            return;
        }
        for (int j = 0; j < index; j++) {
            T before = parts.get(j);
            if (before != null && name.equals(nameOf.apply(before))) {
                violations.add(new Violation(kind + "[" + index + "].name", "must be unique within the VM, '" + name
                        + "' is repeated"));
                return;
            }
        }
    }

    private static Map<String, String> checkLabels(Map<String, String> labels, List<Violation> violations) {
        if (labels == null) {
            return Map.of();
        }
        if (labels.size() > MAX_LABELS) {
            violations.add(new Violation("labels", "at most " + MAX_LABELS + " labels, was " + labels.size()));
        }
        if (labels instanceof SortedLabels sorted && everyLabelValid(sorted)) {
            return sorted; // immutable, and sorted by construction: kept as it is
        }
        LabelCheck check = new LabelCheck(labels.size(), violations);
        labels.forEach(check);
        return SortedLabels.of(check.pairs, check.count);
    }

    private static boolean everyLabelValid(SortedLabels labels) {
        for (int i = 0; i < labels.size(); i++) {
            if (!SpecRules.isLabelKey(labels.key(i)) || SpecRules.labelValueProblem(labels.value(i)) != null) {
                return false;
            }
        }
        return true;
    }

    /** Checks each label and keeps the valid ones, in the order given, as key, value, key, value... */
    private static final class LabelCheck implements BiConsumer<String, String> {
        String[] pairs;
        final List<Violation> violations;
        int count;

        LabelCheck(int size, List<Violation> violations) {
            this.pairs = new String[2 * size];
            this.violations = violations;
        }

        @Override
        public void accept(String key, String value) {
            if (!SpecRules.isLabelKey(key)) {
                violations.add(new Violation("labels[" + printable(key) + "]", SpecRules.LABEL_KEY_RULE));
                return;
            }
            String problem = SpecRules.labelValueProblem(value);
            if (problem != null) {
                violations.add(new Violation("labels[" + key + "]", problem));
                return;
            }
            if (2 * count == pairs.length) { // the map grew while read
                pairs = Arrays.copyOf(pairs, 2 * count + 2);
            }
            pairs[2 * count] = key;
            pairs[2 * count + 1] = value;
            count++;
        }
    }

    private static void checkBoot(BootSpec boot, List<Violation> violations) {
        if (boot.order().isEmpty()) {
            violations.add(new Violation("boot.order", "must list at least one device"));
        }
        checkHostPath("boot.kernel", boot.kernel(), violations);
        checkHostPath("boot.initrd", boot.initrd(), violations);
        if (boot.kernel() == null && boot.initrd() != null) {
            violations.add(new Violation("boot.initrd", "needs boot.kernel"));
        }
        if (boot.cmdline() != null) {
            if (boot.kernel() == null) {
                violations.add(new Violation("boot.cmdline", "needs boot.kernel"));
            }
            if (boot.cmdline().length() > MAX_PATH_LENGTH || SpecRules.hasControlCharacter(boot.cmdline())) {
                violations.add(new Violation("boot.cmdline", "must be at most " + MAX_PATH_LENGTH
                        + " characters without control characters"));
            }
        }
    }

    private static void checkHostPath(String field, String path, List<Violation> violations) {
        if (path == null) {
            return;
        }
        if (path.isEmpty() || path.length() > MAX_PATH_LENGTH || SpecRules.hasControlCharacter(path)) {
            violations.add(new Violation(field, "must be 1 to " + MAX_PATH_LENGTH + " characters without control characters"));
            return;
        }
        Path p;
        try {
            p = Path.of(path);
        } catch (RuntimeException e) {
            violations.add(new Violation(field, "must be a valid path"));
            return;
        }
        if (!p.isAbsolute() || !p.normalize().toString().equals(path)) {
            violations.add(new Violation(field, "must be an absolute, normalised path (no '.', '..' or '//'), was '" + path + "'"));
        }
    }

    /** A random locally administered MAC no NIC before {@code nics[index]} has. */
    private static String generateMac(List<NicSpec> nics, List<NicSpec> normalised, int index) {
        while (true) {
            byte[] b = new byte[3];
            MAC_RANDOM.nextBytes(b);
            String mac = String.format(Locale.ROOT, "52:54:00:%02x:%02x:%02x", b[0] & 0xff, b[1] & 0xff, b[2] & 0xff);
            if (!macTaken(mac, nics, normalised, index)) {
                return mac;
            }
        }
    }

    /** Shows a bad value in a message without letting control characters or huge strings through. */
    static String printable(String value) {
        if (value == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < value.length() && sb.length() < 80; i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c)) {
                sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        if (sb.length() >= 80) {
            sb.append("...");
        }
        return sb.toString();
    }

    /**
     * Builds a {@link VmSpec}. Not thread-safe; reusable (each {@link #build()} returns a new
     * spec). Every value is checked in {@link #build()}, so one exception lists every problem.
     */
    /**
     * Whether a host that takes this VM over from a dead owner starts it again (if it was
     * running there): the label {@value #RESTART_ON_TAKEOVER_LABEL} is {@code "true"}.
     */
    public boolean restartOnTakeover() {
        return "true".equals(labels.get(RESTART_ON_TAKEOVER_LABEL));
    }

    public static final class Builder {
        private String id;
        private String name;
        private long memoryMiB = 256;
        private int cpus = 1;
        private Architecture architecture = Architecture.X86_64;
        private final List<DiskSpec> disks = new ArrayList<>();
        private final List<NicSpec> nics = new ArrayList<>();
        private final Map<String, String> labels = new java.util.LinkedHashMap<>();
        private BootSpec boot = BootSpec.defaults();
        private CloudInit cloudInit;

        private Builder() {
        }

        public Builder id(String id) {
            this.id = id;
            return this;
        }

        /** A human-readable name; defaults to the id. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** Guest memory in MiB; default 256. */
        public Builder memoryMiB(long memoryMiB) {
            this.memoryMiB = memoryMiB;
            return this;
        }

        /** Virtual CPUs; default 1. */
        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        /** Guest architecture; default {@link Architecture#X86_64}. */
        public Builder architecture(Architecture architecture) {
            this.architecture = architecture;
            return this;
        }

        /** Adds a disk; the first disk is the boot disk. */
        public Builder disk(DiskSpec disk) {
            disks.add(disk);
            return this;
        }

        /** Adds a NIC. */
        public Builder nic(NicSpec nic) {
            nics.add(nic);
            return this;
        }

        /** Sets a label; a later value for the same key replaces the earlier one. */
        public Builder label(String key, String value) {
            labels.put(key, value);
            return this;
        }

        /**
         * Whether a host that takes this VM over from a dead owner starts it again, if it was
         * running there: sets (or removes) the label {@value VmSpec#RESTART_ON_TAKEOVER_LABEL}.
         * Default false.
         */
        public Builder restartOnTakeover(boolean restart) {
            if (restart) {
                labels.put(RESTART_ON_TAKEOVER_LABEL, "true");
            } else {
                labels.remove(RESTART_ON_TAKEOVER_LABEL);
            }
            return this;
        }

        /** Boot settings; default {@link BootSpec#defaults()}. */
        public Builder boot(BootSpec boot) {
            this.boot = boot;
            return this;
        }

        /**
         * The cloud-init NoCloud seed the guest reads at boot (user-data, meta-data,
         * network-config); default none. The driver attaches it as a read-only volume labelled
         * {@code cidata}. See {@link CloudInit}.
         */
        public Builder cloudInit(CloudInit cloudInit) {
            this.cloudInit = cloudInit;
            return this;
        }

        /**
         * @throws InvalidVmSpecException listing every violation
         */
        public VmSpec build() {
            return new VmSpec(id, name, memoryMiB, cpus, architecture, disks, nics, labels, boot, cloudInit);
        }
    }
}
