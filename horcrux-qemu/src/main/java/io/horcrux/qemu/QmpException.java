package io.horcrux.qemu;

import io.horcrux.DriverException;
import java.util.Objects;

/**
 * QEMU answered a QMP command with an error. Carries QEMU's error {@link #errorClass() class}
 * (for example {@code "GenericError"} or {@code "CommandNotFound"}) and its
 * {@link #description() description}, so a caller can act on the class without parsing text.
 */
public class QmpException extends DriverException {
    private static final long serialVersionUID = 1L;
    private final String command;
    private final String errorClass;
    private final String description;

    public QmpException(String command, String errorClass, String description) {
        super("QMP command '" + command + "' failed: " + errorClass + ": " + description);
        this.command = Objects.requireNonNull(command, "command");
        this.errorClass = Objects.requireNonNull(errorClass, "errorClass");
        this.description = Objects.requireNonNull(description, "description");
    }

    /** The command that failed, for example {@code "cont"}. */
    public String command() {
        return command;
    }

    /** QEMU's error class, for example {@code "GenericError"}. */
    public String errorClass() {
        return errorClass;
    }

    /** QEMU's human-readable description of the error. */
    public String description() {
        return description;
    }
}
