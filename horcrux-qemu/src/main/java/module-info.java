/**
 * The QEMU driver ({@link io.horcrux.qemu.QemuDriver}), its QMP client and {@code qemu-img}.
 * Jackson's tree model is part of the API: QMP replies and events are {@code JsonNode}s.
 */
module io.horcrux.qemu {
    requires transitive io.horcrux.core;
    requires transitive com.fasterxml.jackson.databind;
    requires org.slf4j;

    exports io.horcrux.qemu;
}
