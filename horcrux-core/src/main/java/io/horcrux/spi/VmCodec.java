package io.horcrux.spi;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.StoreException;
import io.horcrux.internal.VmJson;
import io.horcrux.model.Vm;
import io.horcrux.model.VmSpec;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Turns a {@link Vm} or a {@link VmSpec} into bytes and back, so that a {@link VmStore} can
 * keep what it cannot index as one value (a column, a document, a blob) without knowing the
 * model's shape. The SQLite store keeps every spec this way.
 *
 * <pre>{@code
 * byte[] row = VmCodec.encode(vm);          // in insert and update
 * Vm back = VmCodec.decode(row);            // in find, list and stream; equal to vm
 * }</pre>
 *
 * <h2>Format</h2>
 * UTF-8 JSON text of one object, the same objects the inventory export writes for each VM:
 * <pre>
 * spec: {"id", "name", "memoryMiB", "cpus", "architecture",
 *        "disks": [{"name", "format", "sizeBytes", "readOnly" (only when true),
 *                   "kind", "source" (only for a disk made from an image; absent: an empty disk)}],
 *        "nics": [{"name", "mac", "mode" (only when TAP), "tapDevice" (only when set),
 *                  "forwards": [forward] (only when there are some)}], "labels": {key: value},
 *        "boot": {"order": [device], "kernel", "initrd", "cmdline" (each only when set)},
 *        "cloudInit": {"userData", "metaData", "networkConfig" (each but userData only when set)}
 *                     (only when set)}
 * forward: {"protocol", "hostAddress", "hostPort", "guestPort"}
 * vm:   {"spec": spec, "status", "version", "createdAt", "updatedAt" (ISO-8601 instants),
 *        "statusReason", "runtime": {"pid", "monitor", "forwards": [forward] (only when there are
 *        some)} (only while active), "owner"}
 * </pre>
 * Enum values are their Java names. The format is stable: later versions of Horcrux only add
 * fields, and reading skips fields it does not know, so bytes written by any version are read
 * by every later one. Encoding is deterministic: equal values give equal bytes, so a store may
 * compare encoded specs to learn whether a spec changed.
 *
 * <p>A string that is not valid Unicode (an unpaired surrogate) cannot be written as UTF-8:
 * such a character becomes {@code ?}, as in any UTF-8 database.
 *
 * <h2>Errors</h2>
 * Decoding checks everything: bytes that are not UTF-8 JSON of one such object, a missing or
 * mistyped field, an unknown enum value, anything after the object, and a spec that breaks a
 * rule of {@link VmSpec} are all a {@link StoreException} whose message says what is wrong and
 * where (line and column); nothing is ever decoded half. A {@code null} argument is a
 * {@link NullPointerException}.
 *
 * <p>Thread-safe and stateless.
 */
public final class VmCodec {

    private VmCodec() {
    }

    /**
     * The spec as bytes in the format above.
     *
     * @throws NullPointerException if {@code spec} is null
     */
    public static byte[] encodeSpec(VmSpec spec) {
        Objects.requireNonNull(spec, "spec");
        return VmJson.specToJson(spec).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The spec that {@link #encodeSpec} made these bytes from.
     *
     * @throws StoreException       if the bytes are not such a spec, naming what is wrong
     * @throws NullPointerException if {@code bytes} is null
     */
    public static VmSpec decodeSpec(byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        try {
            VmSpec own = VmJson.specFromOwnText(bytes); // the common case, without a parser
            if (own != null) {
                return own;
            }
            try (JsonParser p = open(bytes)) {
                VmSpec spec = VmJson.readSpec(p);
                requireEnd(p, "VM spec");
                return spec;
            }
        } catch (IOException e) {
            throw malformed("VM spec", e);
        } catch (InvalidVmSpecException e) {
            throw new StoreException("the encoded VM spec breaks a rule: " + e.getMessage(), e);
        }
    }

    /**
     * The VM as bytes in the format above: its spec, status, version, timestamps, reason and
     * runtime facts.
     *
     * @throws NullPointerException if {@code vm} is null
     */
    public static byte[] encode(Vm vm) {
        Objects.requireNonNull(vm, "vm");
        StringWriter out = new StringWriter(384);
        try (var gen = VmJson.FACTORY.createGenerator(out)) {
            VmJson.writeVm(gen, vm);
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory failed", e); // a StringWriter does not fail
        }
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The VM that {@link #encode} made these bytes from.
     *
     * @throws StoreException       if the bytes are not such a VM, naming what is wrong
     * @throws NullPointerException if {@code bytes} is null
     */
    public static Vm decode(byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        try (JsonParser p = open(bytes)) {
            Vm vm = VmJson.readVm(p);
            requireEnd(p, "VM");
            return vm;
        } catch (IOException e) {
            throw malformed("VM", e);
        } catch (InvalidVmSpecException e) {
            throw new StoreException("the encoded VM's spec breaks a rule: " + e.getMessage(), e);
        }
    }

    /**
     * Runtime port forwards ({@link io.horcrux.model.VmRuntime#forwards()}) as the UTF-8 JSON text
     * of an array of forward objects (format above), for a store that keeps them in a column of
     * their own.
     *
     * @throws NullPointerException if {@code forwards} is null
     */
    public static String encodeForwards(java.util.List<io.horcrux.model.PortForward> forwards) {
        Objects.requireNonNull(forwards, "forwards");
        return VmJson.forwardsToJson(forwards);
    }

    /**
     * The forwards that {@link #encodeForwards} made this text from.
     *
     * @throws StoreException       if the text is not such an array, naming what is wrong
     * @throws NullPointerException if {@code text} is null
     */
    public static java.util.List<io.horcrux.model.PortForward> decodeForwards(String text) {
        Objects.requireNonNull(text, "text");
        try {
            return VmJson.forwardsFromJson(text);
        } catch (IOException e) {
            throw malformed("list of port forwards", e);
        } catch (RuntimeException e) {
            throw new StoreException("not an encoded list of port forwards: " + e.getMessage(), e);
        }
    }

    private static JsonParser open(byte[] bytes) throws IOException {
        JsonParser p = VmJson.FACTORY.createParser(bytes);
        if (p.nextToken() == null) {
            p.close();
            throw new IOException("no JSON value: the input is empty");
        }
        return p;
    }

    private static void requireEnd(JsonParser p, String what) throws IOException {
        JsonToken after = p.nextToken();
        if (after != null) {
            var at = p.currentLocation();
            throw new IOException("unexpected " + after + " after the " + what + " object at line " + at.getLineNr()
                    + ", column " + at.getColumnNr());
        }
    }

    private static StoreException malformed(String what, IOException e) {
        return new StoreException("not an encoded " + what + ": " + e.getMessage(), e);
    }
}
