package io.horcrux;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.horcrux.internal.VmJson;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The inventory as one JSON document, {@code {"format": "horcrux-inventory", "formatVersion": 1,
 * "vms": [...]}}: written streaming from the store, read back as the specs to create.
 */
final class InventoryJson {
    static final String FORMAT = "horcrux-inventory";

    private InventoryJson() {
    }

    /** Writes every stored VM to {@code out} (flushed, not closed); returns how many. */
    static long write(VmStore store, OutputStream out) {
        try (Stream<Vm> vms = store.stream(VmQuery.all())) {
            out.write(HEAD);
            long count = VmJson.writeVmElements(vms.iterator(), out);
            out.write(TAIL);
            out.flush();
            return count;
        } catch (IOException e) {
            throw new InventoryJsonException("could not write the inventory: " + e.getMessage(), e);
        }
    }

    /** What comes before and after the VMs: the text a compact Jackson generator writes for them. */
    private static final byte[] HEAD = ("{\"format\":\"" + FORMAT + "\",\"formatVersion\":1,\"vms\":[")
            .getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TAIL = "]}".getBytes(StandardCharsets.US_ASCII);

    /** The specs of the VMs in a document {@link #write} wrote, in its order; {@code in} is not closed. */
    static List<VmSpec> read(InputStream in) {
        List<VmSpec> specs = new ArrayList<>();
        try (JsonParser p = VmJson.FACTORY.createParser(in)) {
            p.configure(JsonParser.Feature.AUTO_CLOSE_SOURCE, false);
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("expected a JSON object");
            }
            boolean formatSeen = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "format" -> {
                        if (!FORMAT.equals(p.getValueAsString())) {
                            throw new IOException("format is '" + p.getValueAsString() + "', expected " + FORMAT);
                        }
                        formatSeen = true;
                    }
                    case "vms" -> {
                        if (p.currentToken() != JsonToken.START_ARRAY) {
                            throw new IOException("vms must be an array");
                        }
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            specs.add(VmJson.readVm(p).spec());
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (!formatSeen) {
                throw new IOException("no \"format\": \"" + FORMAT + "\" field");
            }
        } catch (IOException e) {
            throw new InventoryJsonException("not a Horcrux inventory document: " + e.getMessage(), e);
        }
        return specs;
    }
}
