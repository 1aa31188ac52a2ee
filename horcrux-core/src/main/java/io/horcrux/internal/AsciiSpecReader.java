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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
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
 * Thread-safe: each thread reads with a reader of its own.
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

    private static final List<BootDevice> DEFAULT_ORDER = BootSpec.defaults().order();
    private static final String DEFAULT_ORDER_TEXT = "\"" + DEFAULT_ORDER.get(0).name() + "\"]";

    /** One reader per thread, used again for each text: a read makes only what the spec keeps. */
    private static final ThreadLocal<AsciiSpecReader> READERS = ThreadLocal.withInitial(AsciiSpecReader::new);

    private byte[] b;
    private int p;

    private AsciiSpecReader() {
    }

    /**
     * The spec in {@code bytes} if they are in the writer's own form, else {@code null}.
     *
     * @throws io.horcrux.InvalidVmSpecException if they are, and the spec breaks a rule
     */
    static VmSpec read(byte[] bytes) {
        AsciiSpecReader r = READERS.get();
        r.b = bytes;
        r.p = 0;
        try {
            return r.spec();
        } catch (ArrayIndexOutOfBoundsException e) {
            return null; // the text ended early
        } catch (RuntimeException e) {
            if (e == NOT_CANONICAL) {
                return null;
            }
            throw e;
        } finally {
            r.b = null; // the text is the caller's
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
        Map<String, String> labels = labels();
        expect(",\"boot\":{\"order\":[");
        // The default order, shared rather than made for each spec.
        List<BootDevice> order = next(DEFAULT_ORDER_TEXT) ? DEFAULT_ORDER : rest(() -> constant(BOOT_DEVICES));
        String kernel = next(",\"kernel\":") ? shared() : null;
        String initrd = next(",\"initrd\":") ? shared() : null;
        String cmdline = next(",\"cmdline\":") ? string() : null;
        expect("}");
        BootSpec boot = order == DEFAULT_ORDER && kernel == null && initrd == null && cmdline == null
                ? BootSpec.defaults() : new BootSpec(order, kernel, initrd, cmdline);
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

    /**
     * The elements of an array whose {@code [} was just read, through its {@code ]}, as an
     * immutable list, which the spec's constructors keep as it is: no list is made to be copied.
     */
    private <T> List<T> rest(Supplier<T> element) {
        if (next("]")) {
            return List.of();
        }
        T first = element.get();
        if (!next(",")) {
            expect("]");
            return List.of(first);
        }
        T second = element.get();
        if (!next(",")) {
            expect("]");
            return List.of(first, second);
        }
        List<T> items = new ArrayList<>(4);
        items.add(first);
        items.add(second);
        do {
            items.add(element.get());
        } while (next(","));
        expect("]");
        return List.copyOf(items);
    }

    /**
     * The labels object whose <code>{</code> was just read, through its <code>}</code>, as the
     * model's own map ({@link SpecParts}), which the spec's constructor checks and keeps. A key
     * twice is not the writer's (it writes a map) and goes to Jackson, whose map keeps the last
     * value.
     */
    private Map<String, String> labels() {
        if (next("}")) {
            return Map.of();
        }
        String[] pairs = new String[6];
        int count = 0;
        do {
            String key = shared();
            expect(":");
            for (int i = 0; i < count; i++) {
                if (pairs[2 * i].equals(key)) {
                    throw NOT_CANONICAL;
                }
            }
            if (2 * count == pairs.length) {
                pairs = Arrays.copyOf(pairs, pairs.length * 2);
            }
            pairs[2 * count] = key;
            pairs[2 * count + 1] = shared();
            count++;
        } while (next(","));
        expect("}");
        return SpecParts.labels(pairs, count);
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
