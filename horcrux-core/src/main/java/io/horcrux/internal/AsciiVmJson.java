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
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import com.fasterxml.jackson.core.SerializableString;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The text {@link VmJson#writeSpec} and {@link VmJson#writeVm} write, made without a generator
 * for the common case: every string in the VM is printable ASCII other than {@code "} and
 * {@code \} (all that Horcrux writes itself, and nearly every user's names and labels). Such
 * strings Jackson writes exactly as they are, so the text is the same character for character
 * ({@code VmJsonTest} compares the two); anything else (a character to escape, a null where a
 * string belongs) makes {@link #spec}/{@link #vm} return {@code false}, and the caller writes
 * through Jackson. A generator spends more per field than the whole copy costs, and a VM has
 * some thirty fields.
 *
 * <p>The text is ASCII, so kept as bytes, which are its UTF-8 too; a generator takes it as a raw
 * value ({@link com.fasterxml.jackson.core.JsonGenerator#writeRawValue(SerializableString)}),
 * the only use of this {@link SerializableString}: its quoting methods are not supported.
 *
 * <p>One instance per thread at a time; {@link #reset} before each use.
 */
final class AsciiVmJson implements SerializableString {
    private byte[] buf;
    private int n;

    AsciiVmJson() {
        this(512);
    }

    /** A writer whose buffer holds {@code capacity} bytes before it grows. */
    AsciiVmJson(int capacity) {
        buf = new byte[capacity];
    }

    void reset() {
        n = 0;
    }

    /** How many bytes were written since {@link #reset}. */
    int length() {
        return n;
    }

    /** Forgets what was written after the first {@code length} bytes (a VM that needs Jackson, say). */
    void truncate(int length) {
        n = length;
    }

    /** The text written since {@link #reset}. */
    @Override
    public String getValue() {
        return new String(buf, 0, n, StandardCharsets.ISO_8859_1);
    }

    @Override
    public int charLength() {
        return n;
    }

    @Override
    public byte[] asUnquotedUTF8() {
        return Arrays.copyOf(buf, n);
    }

    @Override
    public int appendUnquotedUTF8(byte[] out, int offset) {
        if (offset + n > out.length) {
            return -1;
        }
        System.arraycopy(buf, 0, out, offset, n);
        return n;
    }

    @Override
    public int appendUnquoted(char[] out, int offset) {
        if (offset + n > out.length) {
            return -1;
        }
        for (int i = 0; i < n; i++) {
            out[offset + i] = (char) buf[i];
        }
        return n;
    }

    @Override
    public int writeUnquotedUTF8(OutputStream out) throws java.io.IOException {
        out.write(buf, 0, n);
        return n;
    }

    @Override
    public int putUnquotedUTF8(ByteBuffer out) {
        if (out.remaining() < n) {
            return -1;
        }
        out.put(buf, 0, n);
        return n;
    }

    @Override
    public char[] asQuotedChars() {
        throw new UnsupportedOperationException("a raw value");
    }

    @Override
    public byte[] asQuotedUTF8() {
        throw new UnsupportedOperationException("a raw value");
    }

    @Override
    public int appendQuotedUTF8(byte[] out, int offset) {
        throw new UnsupportedOperationException("a raw value");
    }

    @Override
    public int appendQuoted(char[] out, int offset) {
        throw new UnsupportedOperationException("a raw value");
    }

    @Override
    public int writeQuotedUTF8(OutputStream out) {
        throw new UnsupportedOperationException("a raw value");
    }

    @Override
    public int putQuotedUTF8(ByteBuffer out) {
        throw new UnsupportedOperationException("a raw value");
    }

    /** Appends the spec's object; false when a string in it needs Jackson. */
    boolean spec(VmSpec spec) {
        raw("{\"id\":");
        plain(spec.id());
        raw(",\"name\":");
        if (!string(spec.name())) {
            return false;
        }
        raw(",\"memoryMiB\":");
        number(spec.memoryMiB());
        raw(",\"cpus\":");
        number(spec.cpus());
        bytes(ARCHITECTURE_THEN_DISKS[spec.architecture().ordinal()]);
        List<DiskSpec> disks = spec.disks();
        for (int i = 0; i < disks.size(); i++) {
            DiskSpec disk = disks.get(i);
            raw(i == 0 ? "{\"name\":" : ",{\"name\":");
            plain(disk.name());
            bytes(FORMAT_THEN_SIZE[disk.format().ordinal()]);
            number(disk.sizeBytes());
            if (disk.readOnly()) {
                raw(",\"readOnly\":true");
            }
            if (disk.kind() != DiskKind.EMPTY) {
                bytes(KIND_FIELD[disk.kind().ordinal()]);
            }
            if (!optional(",\"source\":", disk.source())) {
                return false;
            }
            put('}');
        }
        raw("],\"nics\":[");
        List<NicSpec> nics = spec.nics();
        for (int i = 0; i < nics.size(); i++) {
            NicSpec nic = nics.get(i);
            raw(i == 0 ? "{\"name\":" : ",{\"name\":");
            plain(nic.name());
            raw(",\"mac\":");
            plain(nic.mac());
            if (nic.mode() != NicMode.USER) {
                bytes(MODE_FIELD[nic.mode().ordinal()]);
            }
            if (!optional(",\"tapDevice\":", nic.tapDevice())) {
                return false;
            }
            if (!nic.forwards().isEmpty()) {
                raw(",\"forwards\":");
                if (!forwards(nic.forwards())) {
                    return false;
                }
            }
            put('}');
        }
        raw("],\"labels\":{");
        labels.first = true;
        labels.plain = true;
        spec.labels().forEach(labels);
        if (!labels.plain) {
            return false;
        }
        BootSpec boot = spec.boot();
        List<BootDevice> order = boot.order();
        if (order.equals(DEFAULT_ORDER)) {
            raw(DEFAULT_ORDER_TEXT);
        } else {
            raw("},\"boot\":{\"order\":[");
            for (int i = 0; i < order.size(); i++) {
                if (i > 0) {
                    put(',');
                }
                bytes(BOOT_DEVICES[order.get(i).ordinal()]);
            }
            put(']');
        }
        if (!optional(",\"kernel\":", boot.kernel()) || !optional(",\"initrd\":", boot.initrd())
                || !optional(",\"cmdline\":", boot.cmdline())) {
            return false;
        }
        put('}');
        CloudInit seed = spec.cloudInit();
        if (seed != null) {
            raw(",\"cloudInit\":{\"userData\":");
            if (!string(seed.userData()) || !optional(",\"metaData\":", seed.metaData())
                    || !optional(",\"networkConfig\":", seed.networkConfig())) {
                return false;
            }
            put('}');
        }
        put('}');
        return true;
    }

    /**
     * Appends the labels in the order given (the spec's: by key), through {@link Map#forEach},
     * which walks the spec's labels without an iterator or entries; {@code plain} turns false
     * at a value that needs Jackson.
     */
    private final class LabelWriter implements BiConsumer<String, String> {
        boolean first;
        boolean plain;

        @Override
        public void accept(String key, String value) {
            if (!plain) {
                return;
            }
            if (!first) {
                put(',');
            }
            first = false;
            plain(key);
            put(':');
            plain = string(value);
        }
    }

    private final LabelWriter labels = new LabelWriter();

    private static final List<BootDevice> DEFAULT_ORDER = BootSpec.defaults().order();
    /** The end of the labels and the default boot order, in one. */
    private static final String DEFAULT_ORDER_TEXT = "},\"boot\":{\"order\":[\"" + DEFAULT_ORDER.get(0).name() + "\"]";

    /** Appends port forwards as {@link VmJson#writeForwards} does; false when a string needs Jackson. */
    private boolean forwards(List<PortForward> forwards) {
        put('[');
        for (int i = 0; i < forwards.size(); i++) {
            PortForward f = forwards.get(i);
            raw(i == 0 ? "{\"protocol\":" : ",{\"protocol\":");
            bytes(PROTOCOLS[f.protocol().ordinal()]);
            raw(",\"hostAddress\":");
            if (!string(f.hostAddress())) {
                return false;
            }
            raw(",\"hostPort\":");
            number(f.hostPort());
            raw(",\"guestPort\":");
            number(f.guestPort());
            put('}');
        }
        put(']');
        return true;
    }

    /** The specs' text written lately, shared by every thread's writer. */
    private static final EncodedSpecs SPECS = new EncodedSpecs();

    /**
     * Appends the VM's object; false when a string in it needs Jackson. The spec's text is
     * copied when this very spec was written before ({@link EncodedSpecs}).
     */
    boolean vm(Vm vm) {
        raw("{\"spec\":");
        VmSpec spec = vm.spec();
        byte[] known = StoredSpecText.of(spec);
        if (known == null) {
            known = SPECS.get(spec);
        }
        if (known != null) {
            bytes(known);
        } else {
            int from = n;
            if (!spec(spec)) {
                return false;
            }
            SPECS.put(spec, Arrays.copyOfRange(buf, from, n));
        }
        bytes(STATUS_THEN_VERSION[vm.status().ordinal()]);
        number(vm.version());
        raw(",\"createdAt\":");
        if (!instant(vm.createdAt())) {
            return false;
        }
        raw(",\"updatedAt\":");
        if (!instant(vm.updatedAt())) {
            return false;
        }
        raw(",\"statusReason\":");
        if (!string(vm.statusReason())) {
            return false;
        }
        if (vm.runtime() != null) {
            raw(",\"runtime\":{\"pid\":");
            number(vm.runtime().pid());
            raw(",\"monitor\":");
            if (!string(vm.runtime().monitor())) {
                return false;
            }
            if (!vm.runtime().forwards().isEmpty()) {
                raw(",\"forwards\":");
                if (!forwards(vm.runtime().forwards())) {
                    return false;
                }
            }
            put('}');
        }
        raw(",\"owner\":");
        if (!string(vm.owner())) {
            return false;
        }
        put('}');
        return true;
    }

    private boolean optional(String field, String value) {
        if (value == null) {
            return true;
        }
        raw(field);
        return string(value);
    }

    /** Text of this class's own, ASCII by construction. */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): the low byte of each char, a copy for ASCII
    private void raw(String s) {
        int len = s.length();
        ensure(len);
        s.getBytes(0, len, buf, n);
        n += len;
    }

    /** The characters Jackson writes as they are: printable ASCII but {@code "} and {@code \\}. */
    private static final boolean[] PLAIN = new boolean[128];

    static {
        for (char c = 0x20; c <= 0x7e; c++) {
            PLAIN[c] = c != '"' && c != '\\';
        }
    }

    /** A quoted string, if every character is one Jackson writes unescaped; else false, nothing appended. */
    private boolean string(String s) {
        if (s == null) {
            return false;
        }
        int len = s.length();
        ensure(len + 2);
        byte[] out = buf;
        int at = n;
        out[at++] = '"';
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            if (c >= 128 || !PLAIN[c]) {
                return false;
            }
            out[at++] = (byte) c;
        }
        out[at++] = '"';
        n = at;
        return true;
    }

    /**
     * A quoted string of a kind the spec's own rules keep to {@code [A-Za-z0-9._/:-]} (its id,
     * its disks' and NICs' names, MACs, label keys: see {@code SpecRules}), so copied without a
     * check. A rule that ever lets another character in must move its field to {@link #string}.
     */
    @SuppressWarnings("deprecation") // String.getBytes(int, int, byte[], int): the low byte of each char, a copy for ASCII
    private void plain(String s) {
        int len = s.length();
        ensure(len + 2);
        buf[n++] = '"';
        s.getBytes(0, len, buf, n);
        n += len;
        buf[n++] = '"';
    }

    /**
     * For each constant of {@code type} (by ordinal): {@code before}, its name quoted, then
     * {@code after}: a field and the text that always follows it, copied in one go. Enum names
     * are plain ASCII.
     */
    private static byte[][] texts(Class<? extends Enum<?>> type, String before, String after) {
        Enum<?>[] values = type.getEnumConstants();
        byte[][] texts = new byte[values.length][];
        for (Enum<?> value : values) {
            texts[value.ordinal()] = (before + '"' + value.name() + '"' + after).getBytes(StandardCharsets.US_ASCII);
        }
        return texts;
    }

    private static final byte[][] ARCHITECTURE_THEN_DISKS = texts(Architecture.class, ",\"architecture\":", ",\"disks\":[");
    private static final byte[][] FORMAT_THEN_SIZE = texts(DiskFormat.class, ",\"format\":", ",\"sizeBytes\":");
    private static final byte[][] KIND_FIELD = texts(DiskKind.class, ",\"kind\":", "");
    private static final byte[][] MODE_FIELD = texts(NicMode.class, ",\"mode\":", "");
    private static final byte[][] BOOT_DEVICES = texts(BootDevice.class, "", "");
    private static final byte[][] PROTOCOLS = texts(PortForward.Protocol.class, "", "");
    private static final byte[][] STATUS_THEN_VERSION = texts(VmStatus.class, ",\"status\":", ",\"version\":");

    void put(char c) {
        ensure(1);
        buf[n++] = (byte) c;
    }

    private void bytes(byte[] text) {
        ensure(text.length);
        System.arraycopy(text, 0, buf, n, text.length);
        n += text.length;
    }

    /** Two decimal digits per entry, {@code "00"} to {@code "99"}: half the divisions of one digit at a time. */
    private static final byte[] DIGIT_PAIRS = new byte[200];

    static {
        for (int i = 0; i < 100; i++) {
            DIGIT_PAIRS[2 * i] = (byte) ('0' + i / 10);
            DIGIT_PAIRS[2 * i + 1] = (byte) ('0' + i % 10);
        }
    }

    /** The number's decimal digits, as {@link Long#toString(long)} writes them, without a string. */
    private void number(long value) {
        if (value >= 0 && value < 10) {
            ensure(1);
            buf[n++] = (byte) ('0' + value);
            return;
        }
        if (value == Long.MIN_VALUE) {
            raw(Long.toString(value));
            return;
        }
        ensure(20);
        if (value < 0) {
            buf[n++] = '-';
            value = -value;
        }
        int digits = 1;
        for (long bound = 10; digits < 19 && value >= bound; bound *= 10) {
            digits++;
        }
        int at = n + digits;
        n = at;
        while (value > Integer.MAX_VALUE) {
            long rest = value / 100;
            int pair = (int) (value - rest * 100);
            value = rest;
            buf[--at] = DIGIT_PAIRS[2 * pair + 1];
            buf[--at] = DIGIT_PAIRS[2 * pair];
        }
        int small = (int) value; // the rest in int arithmetic, which is cheaper
        while (small >= 100) {
            int rest = small / 100;
            int pair = small - rest * 100;
            small = rest;
            buf[--at] = DIGIT_PAIRS[2 * pair + 1];
            buf[--at] = DIGIT_PAIRS[2 * pair];
        }
        if (small >= 10) {
            buf[--at] = DIGIT_PAIRS[2 * small + 1];
            buf[--at] = DIGIT_PAIRS[2 * small];
        } else {
            buf[--at] = (byte) ('0' + small);
        }
    }

    private final char[] instant = new char[IsoInstant.MAX_LENGTH];
    private Instant lastInstant;
    private int lastLength;

    /** The instant as {@link Instant#toString()} quoted; the last one's text again when equal (created = updated). */
    private boolean instant(Instant t) {
        if (!t.equals(lastInstant)) {
            lastLength = IsoInstant.format(t, instant, 0);
            lastInstant = lastLength < 0 ? null : t;
            if (lastLength < 0) {
                return false;
            }
        }
        ensure(lastLength + 2);
        buf[n++] = '"';
        for (int i = 0; i < lastLength; i++) {
            buf[n++] = (byte) instant[i];
        }
        buf[n++] = '"';
        return true;
    }

    private void ensure(int more) {
        if (n + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, n + more));
        }
    }
}
