package io.horcrux.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Objects;

/**
 * An asynchronous QMP event, such as {@code SHUTDOWN}, {@code POWERDOWN}, {@code STOP},
 * {@code RESUME}, {@code RESET} or {@code GUEST_PANICKED}.
 *
 * @param name      the event name, as QEMU spells it
 * @param data      the event's {@code data} object; an empty object when it has none
 * @param timestamp when QEMU emitted it
 */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {
    public QmpEvent {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(timestamp, "timestamp");
    }
}
