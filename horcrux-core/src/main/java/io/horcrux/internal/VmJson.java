package io.horcrux.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import io.horcrux.model.Architecture;
import io.horcrux.model.BootDevice;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicMode;
import io.horcrux.model.NicSpec;
import io.horcrux.model.PortForward;
import io.horcrux.model.Vm;
import io.horcrux.model.VmRuntime;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one JSON mapping of the model, on Jackson's streaming API: the model types carry no
 * annotations, and no reflection runs on the hot path. Used by the inventory export and
 * import, and behind {@link io.horcrux.spi.VmCodec}, the public form of the same mapping that
 * stores use to keep a VM or its spec as one value.
 *
 * <p>Reading is strict: unknown fields are skipped, but missing or mistyped required ones
 * fail, and every spec read is validated by {@link VmSpec}'s constructor.
 *
 * <p>Not API: this package may change without notice.
 */
public final class VmJson {
    /** Shared and thread-safe; limits keep a hostile document from exhausting memory. */
    public static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength(1 << 20)
                    .maxNestingDepth(32)
                    .build())
            .build();

    private VmJson() {
    }

    /** The writer of the common case, one per thread (see {@link AsciiVmJson}). */
    private static final ThreadLocal<AsciiVmJson> ASCII = ThreadLocal.withInitial(AsciiVmJson::new);

    /** The spec as a compact JSON object. */
    public static String specToJson(VmSpec spec) {
        AsciiVmJson ascii = ASCII.get();
        ascii.reset();
        if (ascii.spec(spec)) {
            return ascii.getValue();
        }
        StringWriter out = new StringWriter(256);
        try (JsonGenerator gen = FACTORY.createGenerator(out)) {
            writeSpec(gen, spec);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /**
     * The spec in a JSON object written by {@link #specToJson}.
     *
     * @throws IOException if the text is not such an object
     * @throws io.horcrux.InvalidVmSpecException if the object breaks a spec rule
     */
    public static VmSpec specFromJson(String json) throws IOException {
        try (JsonParser p = FACTORY.createParser(json)) {
            p.nextToken();
            return readSpec(p);
        }
    }

    /**
     * The spec in {@code utf8} when it is exactly the text {@link #specToJson} writes for an
     * all-ASCII spec (see {@link AsciiSpecReader}), read without a parser; {@code null} for any
     * other text, which {@link #readSpec} then reads.
     *
     * @throws io.horcrux.InvalidVmSpecException if the text is such, and the spec breaks a rule
     */
    public static VmSpec specFromOwnText(byte[] utf8) {
        return AsciiSpecReader.read(utf8);
    }

    public static void writeSpec(JsonGenerator gen, VmSpec spec) throws IOException {
        gen.writeStartObject();
        gen.writeStringField("id", spec.id());
        gen.writeStringField("name", spec.name());
        gen.writeNumberField("memoryMiB", spec.memoryMiB());
        gen.writeNumberField("cpus", spec.cpus());
        gen.writeStringField("architecture", spec.architecture().name());
        gen.writeArrayFieldStart("disks");
        for (DiskSpec disk : spec.disks()) {
            gen.writeStartObject();
            gen.writeStringField("name", disk.name());
            gen.writeStringField("format", disk.format().name());
            gen.writeNumberField("sizeBytes", disk.sizeBytes());
            if (disk.readOnly()) {
                gen.writeBooleanField("readOnly", true);
            }
            if (disk.kind() != DiskKind.EMPTY) {
                gen.writeStringField("kind", disk.kind().name());
            }
            writeOptional(gen, "source", disk.source());
            gen.writeEndObject();
        }
        gen.writeEndArray();
        gen.writeArrayFieldStart("nics");
        for (NicSpec nic : spec.nics()) {
            gen.writeStartObject();
            gen.writeStringField("name", nic.name());
            gen.writeStringField("mac", nic.mac());
            // Written only when they differ from a plain user-mode NIC, so older specs keep their bytes.
            if (nic.mode() != NicMode.USER) {
                gen.writeStringField("mode", nic.mode().name());
            }
            writeOptional(gen, "tapDevice", nic.tapDevice());
            if (!nic.forwards().isEmpty()) {
                gen.writeFieldName("forwards");
                writeForwards(gen, nic.forwards());
            }
            gen.writeEndObject();
        }
        gen.writeEndArray();
        gen.writeObjectFieldStart("labels");
        for (Map.Entry<String, String> label : spec.labels().entrySet()) {
            gen.writeStringField(label.getKey(), label.getValue());
        }
        gen.writeEndObject();
        BootSpec boot = spec.boot();
        gen.writeObjectFieldStart("boot");
        gen.writeArrayFieldStart("order");
        for (BootDevice device : boot.order()) {
            gen.writeString(device.name());
        }
        gen.writeEndArray();
        writeOptional(gen, "kernel", boot.kernel());
        writeOptional(gen, "initrd", boot.initrd());
        writeOptional(gen, "cmdline", boot.cmdline());
        gen.writeEndObject();
        CloudInit seed = spec.cloudInit();
        if (seed != null) {
            gen.writeObjectFieldStart("cloudInit");
            gen.writeStringField("userData", seed.userData());
            writeOptional(gen, "metaData", seed.metaData());
            writeOptional(gen, "networkConfig", seed.networkConfig());
            gen.writeEndObject();
        }
        gen.writeEndObject();
    }

    /** Port forwards as a JSON array of {"protocol", "hostAddress", "hostPort", "guestPort"}. */
    public static void writeForwards(JsonGenerator gen, List<PortForward> forwards) throws IOException {
        gen.writeStartArray();
        for (PortForward f : forwards) {
            gen.writeStartObject();
            gen.writeStringField("protocol", f.protocol().name());
            gen.writeStringField("hostAddress", f.hostAddress());
            gen.writeNumberField("hostPort", f.hostPort());
            gen.writeNumberField("guestPort", f.guestPort());
            gen.writeEndObject();
        }
        gen.writeEndArray();
    }

    /** The forwards as a compact JSON array, for a store's column. */
    public static String forwardsToJson(List<PortForward> forwards) {
        StringWriter out = new StringWriter(64);
        try (JsonGenerator gen = FACTORY.createGenerator(out)) {
            writeForwards(gen, forwards);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /**
     * The forwards in a JSON array written by {@link #forwardsToJson}.
     *
     * @throws IOException if the text is not such an array
     */
    public static List<PortForward> forwardsFromJson(String json) throws IOException {
        try (JsonParser p = FACTORY.createParser(json)) {
            p.nextToken();
            List<PortForward> forwards = readForwards(p);
            if (p.nextToken() != null) {
                throw new IOException("unexpected " + p.currentToken() + " after the forwards" + at(p));
            }
            return forwards;
        }
    }

    /** Reads an array of forwards; the parser is on its START_ARRAY and ends on its END_ARRAY. */
    public static List<PortForward> readForwards(JsonParser p) throws IOException {
        List<PortForward> forwards = new ArrayList<>();
        readArray(p, () -> forwards.add(readForward(p)));
        return forwards;
    }

    private static PortForward readForward(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        PortForward.Protocol protocol = null;
        String address = PortForward.LOOPBACK;
        int hostPort = -1;
        int guestPort = -1;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "protocol" -> protocol = enumValue(p, PROTOCOLS);
                case "hostAddress" -> address = text(p);
                case "hostPort" -> hostPort = p.getValueAsInt(-1);
                case "guestPort" -> guestPort = p.getValueAsInt(-1);
                default -> p.skipChildren();
            }
        }
        if (protocol == null || address == null) {
            throw new IOException("a port forward needs a protocol and a host address" + at(p));
        }
        return new PortForward(protocol, address, hostPort, guestPort);
    }

    private static CloudInit readCloudInit(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        String userData = null;
        String metaData = null;
        String networkConfig = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "userData" -> userData = text(p);
                case "metaData" -> metaData = text(p);
                case "networkConfig" -> networkConfig = text(p);
                default -> p.skipChildren();
            }
        }
        if (userData == null) {
            throw new IOException("cloudInit needs userData" + at(p));
        }
        return new CloudInit(userData, metaData, networkConfig);
    }

    /** Reads a spec object; the parser is on its START_OBJECT and ends on its END_OBJECT. */
    public static VmSpec readSpec(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        String id = null;
        String name = null;
        long memory = -1;
        int cpus = -1;
        Architecture arch = null;
        List<DiskSpec> disks = new ArrayList<>(2);
        List<NicSpec> nics = new ArrayList<>(2);
        Map<String, String> labels = new LinkedHashMap<>();
        BootSpec boot = null;
        CloudInit cloudInit = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "id" -> id = text(p);
                case "name" -> name = text(p);
                case "memoryMiB" -> memory = p.getValueAsLong(-1);
                case "cpus" -> cpus = p.getValueAsInt(-1);
                case "architecture" -> arch = enumValue(p, ARCHITECTURES);
                case "disks" -> readArray(p, () -> disks.add(readDisk(p)));
                case "nics" -> readArray(p, () -> nics.add(readNic(p)));
                case "labels" -> {
                    expect(p, JsonToken.START_OBJECT);
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String key = p.currentName();
                        p.nextToken();
                        labels.put(key, text(p));
                    }
                }
                case "boot" -> boot = readBoot(p);
                case "cloudInit" -> cloudInit = readCloudInit(p);
                default -> p.skipChildren();
            }
        }
        return new VmSpec(id, name, memory, cpus, arch, disks, nics, labels, boot, cloudInit);
    }

    /**
     * The whole VM as a JSON object. A VM whose row this thread's store just read gets the
     * spec's text as stored ({@link StoredSpecText}): the same object, in the form of the writer
     * that stored it; a spec written lately gets its text copied ({@link EncodedSpecs}).
     */
    public static void writeVm(JsonGenerator gen, Vm vm) throws IOException {
        if (gen.getPrettyPrinter() == null) {
            AsciiVmJson ascii = ASCII.get();
            ascii.reset();
            if (ascii.vm(vm)) {
                gen.writeRawValue(ascii);
                return;
            }
        }
        writeVmWithJackson(gen, vm);
    }

    /** Past this many bytes, {@link #writeVmElements} hands its text to the stream. */
    private static final int CHUNK = 32 * 1024;

    /**
     * Writes {@code vms} to {@code out} as the elements of a JSON array, without its brackets:
     * the text a compact generator writes for them one {@link #writeVm} after another, made
     * without a generator where it can be and handed to {@code out} in chunks of some
     * {@value #CHUNK} bytes. An export goes at the speed of the store it reads: each VM's text
     * is copied once, into the chunk. Returns how many VMs were written; {@code out} is neither
     * flushed nor closed.
     */
    public static long writeVmElements(Iterator<? extends Vm> vms, OutputStream out) throws IOException {
        AsciiVmJson chunk = new AsciiVmJson(CHUNK + 4096); // a chunk and a VM: it never grows for a usual VM
        long count = 0;
        while (vms.hasNext()) {
            Vm vm = vms.next();
            int mark = chunk.length();
            if (count > 0) {
                chunk.put(',');
            }
            if (!chunk.vm(vm)) {
                // A string to escape: the chunk so far, then this VM through Jackson.
                chunk.truncate(mark + (count > 0 ? 1 : 0));
                chunk.writeUnquotedUTF8(out);
                chunk.reset();
                try (JsonGenerator gen = FACTORY.createGenerator(out)) {
                    gen.configure(JsonGenerator.Feature.AUTO_CLOSE_TARGET, false);
                    gen.configure(JsonGenerator.Feature.FLUSH_PASSED_TO_STREAM, false);
                    writeVmWithJackson(gen, vm);
                }
            } else if (chunk.length() >= CHUNK) {
                chunk.writeUnquotedUTF8(out);
                chunk.reset();
            }
            count++;
        }
        chunk.writeUnquotedUTF8(out);
        return count;
    }

    /**
     * {@link #writeVm} through the generator's own methods, a call per field, whatever the VM
     * holds: what {@code writeVm} falls back to, and the floor it is measured against.
     */
    public static void writeVmWithJackson(JsonGenerator gen, Vm vm) throws IOException {
        gen.writeStartObject();
        gen.writeFieldName("spec");
        writeSpec(gen, vm.spec());
        gen.writeStringField("status", vm.status().name());
        gen.writeNumberField("version", vm.version());
        char[] instant = new char[IsoInstant.MAX_LENGTH];
        writeInstant(gen, "createdAt", vm.createdAt(), instant);
        writeInstant(gen, "updatedAt", vm.updatedAt(), instant);
        gen.writeStringField("statusReason", vm.statusReason());
        if (vm.runtime() != null) {
            gen.writeObjectFieldStart("runtime");
            gen.writeNumberField("pid", vm.runtime().pid());
            gen.writeStringField("monitor", vm.runtime().monitor());
            if (!vm.runtime().forwards().isEmpty()) {
                gen.writeFieldName("forwards");
                writeForwards(gen, vm.runtime().forwards());
            }
            gen.writeEndObject();
        }
        gen.writeStringField("owner", vm.owner());
        gen.writeEndObject();
    }

    /** Reads a VM object written by {@link #writeVm}; one without an owner is {@link Vm#DEFAULT_HOST}'s. */
    public static Vm readVm(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        VmSpec spec = null;
        VmStatus status = null;
        long version = 0;
        Instant created = null;
        Instant updated = null;
        String reason = "";
        VmRuntime runtime = null;
        String owner = Vm.DEFAULT_HOST;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "spec" -> spec = readSpec(p);
                case "status" -> status = enumValue(p, STATUSES);
                case "version" -> version = p.getValueAsLong(0);
                case "createdAt" -> created = instant(p);
                case "updatedAt" -> updated = instant(p);
                case "statusReason" -> reason = text(p);
                case "runtime" -> runtime = readRuntime(p);
                case "owner" -> owner = text(p);
                default -> p.skipChildren();
            }
        }
        if (spec == null || status == null || created == null || updated == null) {
            throw new IOException("a VM object needs spec, status, createdAt and updatedAt" + at(p));
        }
        try {
            return new Vm(spec, status, version, created, updated, reason, runtime, owner);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage() + at(p), e);
        }
    }

    private static VmRuntime readRuntime(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        long pid = 0;
        String monitor = "";
        List<PortForward> forwards = List.of();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "pid" -> pid = p.getValueAsLong(0);
                case "monitor" -> monitor = text(p);
                case "forwards" -> forwards = readForwards(p);
                default -> p.skipChildren();
            }
        }
        try {
            return new VmRuntime(pid, monitor, forwards);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage() + at(p), e);
        }
    }

    private static DiskSpec readDisk(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        String name = null;
        DiskFormat format = null;
        long size = -1;
        boolean readOnly = false;
        DiskKind kind = DiskKind.EMPTY; // absent in documents from before disks had sources
        String source = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "name" -> name = text(p);
                case "format" -> format = enumValue(p, DISK_FORMATS);
                case "sizeBytes" -> size = p.getValueAsLong(-1);
                case "readOnly" -> readOnly = p.getValueAsBoolean();
                case "kind" -> kind = enumValue(p, DISK_KINDS);
                case "source" -> source = text(p);
                default -> p.skipChildren();
            }
        }
        if (format == null) {
            throw new IOException("a disk needs a format" + at(p));
        }
        return new DiskSpec(name, format, size, readOnly, kind, source);
    }

    private static NicSpec readNic(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        String name = null;
        String mac = null;
        NicMode mode = NicMode.USER;
        String tapDevice = null;
        List<PortForward> forwards = List.of();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "name" -> name = text(p);
                case "mac" -> mac = text(p);
                case "mode" -> mode = enumValue(p, NIC_MODES);
                case "tapDevice" -> tapDevice = text(p);
                case "forwards" -> forwards = readForwards(p);
                default -> p.skipChildren();
            }
        }
        return new NicSpec(name, mac, mode, tapDevice, forwards);
    }

    private static BootSpec readBoot(JsonParser p) throws IOException {
        expect(p, JsonToken.START_OBJECT);
        List<BootDevice> order = new ArrayList<>();
        String kernel = null;
        String initrd = null;
        String cmdline = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "order" -> readArray(p, () -> order.add(enumValue(p, BOOT_DEVICES)));
                case "kernel" -> kernel = text(p);
                case "initrd" -> initrd = text(p);
                case "cmdline" -> cmdline = text(p);
                default -> p.skipChildren();
            }
        }
        return new BootSpec(order, kernel, initrd, cmdline);
    }

    private interface ElementReader {
        void read() throws IOException;
    }

    private static void readArray(JsonParser p, ElementReader element) throws IOException {
        expect(p, JsonToken.START_ARRAY);
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (p.currentToken() == null) {
                throw new IOException("unexpected end of input" + at(p));
            }
            element.read();
        }
    }

    /** {@code t} as {@link Instant#toString()} writes it; see {@link IsoInstant}. */
    private static void writeInstant(JsonGenerator gen, String field, Instant t, char[] buffer) throws IOException {
        gen.writeFieldName(field);
        int n = IsoInstant.format(t, buffer);
        if (n < 0) {
            gen.writeString(t.toString());
        } else {
            gen.writeString(buffer, 0, n);
        }
    }

    private static void writeOptional(JsonGenerator gen, String field, String value) throws IOException {
        if (value != null) {
            gen.writeStringField(field, value);
        }
    }

    private static String text(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t != JsonToken.VALUE_STRING) {
            throw new IOException("expected a string for '" + p.currentName() + "'" + at(p));
        }
        return p.getText();
    }

    private static final Architecture[] ARCHITECTURES = Architecture.values();
    private static final DiskFormat[] DISK_FORMATS = DiskFormat.values();
    private static final BootDevice[] BOOT_DEVICES = BootDevice.values();
    private static final VmStatus[] STATUSES = VmStatus.values();
    private static final DiskKind[] DISK_KINDS = DiskKind.values();
    private static final NicMode[] NIC_MODES = NicMode.values();
    private static final PortForward.Protocol[] PROTOCOLS = PortForward.Protocol.values();

    /**
     * The constant of {@code values} the current string names, compared in the parser's own
     * buffer: reading a stored spec makes no string of an enum's name.
     */
    private static <E extends Enum<E>> E enumValue(JsonParser p, E[] values) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        if (t != JsonToken.VALUE_STRING) {
            throw new IOException("expected a string for '" + p.currentName() + "'" + at(p));
        }
        char[] chars = p.getTextCharacters();
        int offset = p.getTextOffset();
        int length = p.getTextLength();
        for (E value : values) {
            String name = value.name();
            if (name.length() == length && sameChars(name, chars, offset)) {
                return value;
            }
        }
        throw new IOException("unknown " + values[0].getDeclaringClass().getSimpleName() + " '" + p.getText() + "'"
                + at(p));
    }

    private static boolean sameChars(String name, char[] chars, int offset) {
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) != chars[offset + i]) {
                return false;
            }
        }
        return true;
    }

    private static Instant instant(JsonParser p) throws IOException {
        String value = text(p);
        try {
            return value == null ? null : Instant.parse(value);
        } catch (java.time.format.DateTimeParseException e) {
            throw new IOException("not an ISO-8601 instant: '" + value + "'" + at(p), e);
        }
    }

    private static void expect(JsonParser p, JsonToken token) throws IOException {
        if (p.currentToken() != token) {
            throw new IOException("expected " + token + " but found " + p.currentToken() + at(p));
        }
    }

    private static String at(JsonParser p) {
        var loc = p.currentLocation();
        return " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
    }
}
