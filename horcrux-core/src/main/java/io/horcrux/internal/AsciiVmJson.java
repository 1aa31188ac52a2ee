package io.horcrux.internal;

import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicMode;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import com.fasterxml.jackson.core.SerializableString;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

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
    private byte[] buf = new byte[512];
    private int n;

    void reset() {
        n = 0;
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
        if (!string(spec.id())) {
            return false;
        }
        raw(",\"name\":");
        if (!string(spec.name())) {
            return false;
        }
        raw(",\"memoryMiB\":");
        number(spec.memoryMiB());
        raw(",\"cpus\":");
        number(spec.cpus());
        raw(",\"architecture\":");
        string(spec.architecture().name());
        raw(",\"disks\":[");
        String comma = "";
        for (DiskSpec disk : spec.disks()) {
            raw(comma);
            raw("{\"name\":");
            if (!string(disk.name())) {
                return false;
            }
            raw(",\"format\":");
            string(disk.format().name());
            raw(",\"sizeBytes\":");
            number(disk.sizeBytes());
            if (disk.readOnly()) {
                raw(",\"readOnly\":true");
            }
            if (disk.kind() != DiskKind.EMPTY) {
                raw(",\"kind\":");
                string(disk.kind().name());
            }
            if (!optional(",\"source\":", disk.source())) {
                return false;
            }
            raw("}");
            comma = ",";
        }
        raw("],\"nics\":[");
        comma = "";
        for (NicSpec nic : spec.nics()) {
            raw(comma);
            raw("{\"name\":");
            if (!string(nic.name())) {
                return false;
            }
            raw(",\"mac\":");
            if (!string(nic.mac())) {
                return false;
            }
            if (nic.mode() != NicMode.USER) {
                raw(",\"mode\":");
                string(nic.mode().name());
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
            raw("}");
            comma = ",";
        }
        raw("],\"labels\":{");
        comma = "";
        for (Map.Entry<String, String> label : spec.labels().entrySet()) {
            raw(comma);
            if (!string(label.getKey())) {
                return false;
            }
            raw(":");
            if (!string(label.getValue())) {
                return false;
            }
            comma = ",";
        }
        BootSpec boot = spec.boot();
        raw("},\"boot\":{\"order\":[");
        comma = "";
        for (BootDevice device : boot.order()) {
            raw(comma);
            string(device.name());
            comma = ",";
        }
        raw("]");
        if (!optional(",\"kernel\":", boot.kernel()) || !optional(",\"initrd\":", boot.initrd())
                || !optional(",\"cmdline\":", boot.cmdline())) {
            return false;
        }
        raw("}");
        CloudInit seed = spec.cloudInit();
        if (seed != null) {
            raw(",\"cloudInit\":{\"userData\":");
            if (!string(seed.userData()) || !optional(",\"metaData\":", seed.metaData())
                    || !optional(",\"networkConfig\":", seed.networkConfig())) {
                return false;
            }
            raw("}");
        }
        raw("}");
        return true;
    }

    /** Appends port forwards as {@link VmJson#writeForwards} does; false when a string needs Jackson. */
    private boolean forwards(List<PortForward> forwards) {
        raw("[");
        String comma = "";
        for (PortForward f : forwards) {
            raw(comma);
            raw("{\"protocol\":");
            string(f.protocol().name());
            raw(",\"hostAddress\":");
            if (!string(f.hostAddress())) {
                return false;
            }
            raw(",\"hostPort\":");
            number(f.hostPort());
            raw(",\"guestPort\":");
            number(f.guestPort());
            raw("}");
            comma = ",";
        }
        raw("]");
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
        byte[] known = SPECS.get(spec);
        if (known != null) {
            bytes(known);
        } else {
            int from = n;
            if (!spec(spec)) {
                return false;
            }
            SPECS.put(spec, Arrays.copyOfRange(buf, from, n));
        }
        raw(",\"status\":");
        string(vm.status().name());
        raw(",\"version\":");
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
            raw("}");
        }
        raw(",\"owner\":");
        if (!string(vm.owner())) {
            return false;
        }
        raw("}");
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

    /** A quoted string, if every character is one Jackson writes unescaped. */
    @SuppressWarnings("deprecation")
    private boolean string(String s) {
        if (s == null) {
            return false;
        }
        int len = s.length();
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
                return false;
            }
        }
        ensure(len + 2);
        buf[n++] = '"';
        s.getBytes(0, len, buf, n);
        n += len;
        buf[n++] = '"';
        return true;
    }

    private void bytes(byte[] text) {
        ensure(text.length);
        System.arraycopy(text, 0, buf, n, text.length);
        n += text.length;
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
        for (long v = value / 10; v != 0; v /= 10) {
            digits++;
        }
        int at = n + digits;
        n = at;
        do {
            buf[--at] = (byte) ('0' + value % 10);
            value /= 10;
        } while (value != 0);
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
