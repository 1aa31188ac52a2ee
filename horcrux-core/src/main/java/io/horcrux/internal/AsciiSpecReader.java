package io.horcrux.internal;

import io.horcrux.model.Architecture;
import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicMode;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.VmSpec;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

/**
 * Reads back, without a parser, the text {@link AsciiVmJson#spec} writes: the same fields in
 * the same order, every string printable ASCII without {@code "} or {@code \}, numbers as plain
 * digits. That is every spec Horcrux stored itself from such strings, so nearly every row a
 * store reads. Anything else (another order, an unknown field, an escape, a null, white space,
 * a document an older or newer writer made) makes {@link #read} return {@code null}, and the
 * caller reads it with Jackson ({@link VmJson#readSpec}), which gives the same spec for any
 * text both accept. The spec is built by the same constructors, so it is validated alike.
 *
 * <p>What it saves is the parser's own objects and the strings of enum names; the short
 * strings that repeat from VM to VM (disk and NIC names, label keys and values, image paths,
 * host addresses) come from {@link SharedText} rather than a new string each.
 * Stateless; thread-safe.
 */
final class AsciiSpecReader {
    /** Thrown (never with a stack trace) where the text is not the writer's own: Jackson reads it. */
    private static final RuntimeException NOT_CANONICAL = new RuntimeException("not canonical", null, false, false) {
    };

    private static final Architecture[] ARCHITECTURES = Architecture.values();
    private static final DiskFormat[] DISK_FORMATS = DiskFormat.values();
    private static final DiskKind[] DISK_KINDS = DiskKind.values();
    private static final NicMode[] NIC_MODES = NicMode.values();
    private static final BootDevice[] BOOT_DEVICES = BootDevice.values();
    private static final PortForward.Protocol[] PROTOCOLS = PortForward.Protocol.values();

    private final byte[] b;
    private int p;

    private AsciiSpecReader(byte[] bytes) {
        this.b = bytes;
    }

    /**
     * The spec in {@code bytes} if they are in the writer's own form, else {@code null}.
     *
     * @throws io.horcrux.InvalidVmSpecException if they are, and the spec breaks a rule
     */
    static VmSpec read(byte[] bytes) {
        AsciiSpecReader r = new AsciiSpecReader(bytes);
        try {
            return r.spec();
        } catch (ArrayIndexOutOfBoundsException e) {
            return null; // the text ended early
        } catch (RuntimeException e) {
            if (e == NOT_CANONICAL) {
                return null;
            }
            throw e;
        }
    }

    private VmSpec spec() {
        expect("{\"id\":");
        String id = string();
        expect(",\"name\":");
        String name = string();
        expect(",\"memoryMiB\":");
        long memory = number();
        expect(",\"cpus\":");
        int cpus = intNumber();
        expect(",\"architecture\":");
        Architecture arch = constant(ARCHITECTURES);
        expect(",\"disks\":[");
        List<DiskSpec> disks = rest(this::disk);
        expect(",\"nics\":[");
        List<NicSpec> nics = rest(this::nic);
        expect(",\"labels\":{");
        Pairs labels = new Pairs();
        if (!next("}")) {
            do {
                String key = shared();
                expect(":");
                labels.add(key, shared());
            } while (next(","));
            expect("}");
        }
        expect(",\"boot\":{\"order\":[");
        List<BootDevice> order = rest(() -> constant(BOOT_DEVICES));
        String kernel = next(",\"kernel\":") ? shared() : null;
        String initrd = next(",\"initrd\":") ? shared() : null;
        String cmdline = next(",\"cmdline\":") ? string() : null;
        expect("}");
        BootSpec boot = new BootSpec(order, kernel, initrd, cmdline);
        CloudInit cloudInit = null;
        if (next(",\"cloudInit\":{\"userData\":")) {
            String userData = string();
            String metaData = next(",\"metaData\":") ? string() : null;
            String networkConfig = next(",\"networkConfig\":") ? string() : null;
            expect("}");
            cloudInit = new CloudInit(userData, metaData, networkConfig);
        }
        expect("}");
        if (p != b.length) {
            throw NOT_CANONICAL;
        }
        return new VmSpec(id, name, memory, cpus, arch, disks, nics, labels, boot, cloudInit);
    }

    private DiskSpec disk() {
        expect("{\"name\":");
        String name = shared();
        expect(",\"format\":");
        DiskFormat format = constant(DISK_FORMATS);
        expect(",\"sizeBytes\":");
        long size = number();
        boolean readOnly = next(",\"readOnly\":true");
        DiskKind kind = next(",\"kind\":") ? constant(DISK_KINDS) : DiskKind.EMPTY;
        String source = next(",\"source\":") ? shared() : null;
        expect("}");
        return new DiskSpec(name, format, size, readOnly, kind, source);
    }

    private NicSpec nic() {
        expect("{\"name\":");
        String name = shared();
        expect(",\"mac\":");
        String mac = string();
        NicMode mode = next(",\"mode\":") ? constant(NIC_MODES) : NicMode.USER;
        String tapDevice = next(",\"tapDevice\":") ? shared() : null;
        List<PortForward> forwards = next(",\"forwards\":") ? forwards() : List.of();
        expect("}");
        return new NicSpec(name, mac, mode, tapDevice, forwards);
    }

    private List<PortForward> forwards() {
        expect("[");
        return rest(this::forward);
    }

    private PortForward forward() {
        expect("{\"protocol\":");
        PortForward.Protocol protocol = constant(PROTOCOLS);
        expect(",\"hostAddress\":");
        String address = shared();
        expect(",\"hostPort\":");
        int hostPort = intNumber();
        expect(",\"guestPort\":");
        int guestPort = intNumber();
        expect("}");
        return new PortForward(protocol, address, hostPort, guestPort);
    }

    /** The elements of an array whose {@code [} was just read, through its {@code ]}. */
    private <T> List<T> rest(Supplier<T> element) {
        List<T> items = new ArrayList<>(2);
        if (!next("]")) {
            do {
                items.add(element.get());
            } while (next(","));
            expect("]");
        }
        return items;
    }

    /**
     * The labels as read, for the spec's constructor, which copies them into its own sorted map:
     * only {@link #size} and {@link #forEach} are asked of it, so it keeps the pairs in one array
     * rather than a map's entries. A key twice is not the writer's (it writes a map) and goes
     * to Jackson, whose map keeps the last value.
     */
    private static final class Pairs extends AbstractMap<String, String> {
        private String[] kv = new String[8];
        private int size;

        void add(String key, String value) {
            for (int i = 0; i < size; i++) {
                if (kv[2 * i].equals(key)) {
                    throw NOT_CANONICAL;
                }
            }
            if (2 * size == kv.length) {
                kv = Arrays.copyOf(kv, kv.length * 2);
            }
            kv[2 * size] = key;
            kv[2 * size + 1] = value;
            size++;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public void forEach(BiConsumer<? super String, ? super String> action) {
            for (int i = 0; i < size; i++) {
                action.accept(kv[2 * i], kv[2 * i + 1]);
            }
        }

        @Override
        public Set<Map.Entry<String, String>> entrySet() {
            Set<Map.Entry<String, String>> entries = new LinkedHashSet<>();
            for (int i = 0; i < size; i++) {
                entries.add(new SimpleImmutableEntry<>(kv[2 * i], kv[2 * i + 1]));
            }
            return entries;
        }
    }

    /** Skips {@code text} if it comes next. */
    private boolean next(String text) {
        int len = text.length();
        if (p + len > b.length) {
            return false;
        }
        for (int i = 0; i < len; i++) {
            if (b[p + i] != text.charAt(i)) {
                return false;
            }
        }
        p += len;
        return true;
    }

    private void expect(String text) {
        if (!next(text)) {
            throw NOT_CANONICAL;
        }
    }

    /** The end (exclusive) of the quoted string at {@code p}, its characters all ones the writer writes as they are. */
    private int stringEnd() {
        if (b[p] != '"') {
            throw NOT_CANONICAL;
        }
        int i = p + 1;
        while (true) {
            byte c = b[i];
            if (c == '"') {
                return i;
            }
            if (c < 0x20 || c > 0x7e || c == '\\') {
                throw NOT_CANONICAL;
            }
            i++;
        }
    }

    private String string() {
        int end = stringEnd();
        String s = new String(b, p + 1, end - p - 1, StandardCharsets.ISO_8859_1);
        p = end + 1;
        return s;
    }

    /** A string of the kind that repeats from VM to VM, through {@link SharedText}. */
    private String shared() {
        int end = stringEnd();
        String s = SharedText.of(b, p + 1, end - p - 1);
        p = end + 1;
        return s;
    }

    private boolean sameText(String s, int from) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) != b[from + i]) {
                return false;
            }
        }
        return true;
    }

    /** Plain digits, as the writer writes a non-negative number; no sign, no leading zero, at most 18. */
    private long number() {
        int start = p;
        long value = 0;
        while (p < b.length && b[p] >= '0' && b[p] <= '9') {
            value = value * 10 + (b[p] - '0');
            p++;
        }
        int digits = p - start;
        if (digits == 0 || digits > 18 || (digits > 1 && b[start] == '0')) {
            throw NOT_CANONICAL;
        }
        return value;
    }

    private int intNumber() {
        long value = number();
        if (value > Integer.MAX_VALUE) {
            throw NOT_CANONICAL;
        }
        return (int) value;
    }

    /** The constant of {@code values} whose name is the quoted string at {@code p}. */
    private <E extends Enum<E>> E constant(E[] values) {
        int end = stringEnd();
        int from = p + 1;
        int len = end - from;
        for (E value : values) {
            String name = value.name();
            if (name.length() == len && sameText(name, from)) {
                p = end + 1;
                return value;
            }
        }
        throw NOT_CANONICAL; // Jackson names the unknown constant
    }
}
