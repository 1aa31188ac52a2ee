package io.horcrux;

/**
 * The hypervisor driver failed: a process would not start, a monitor command failed or timed
 * out, a disk could not be provisioned. The message says what and, where known, for which VM.
 */
public class DriverException extends HorcruxException {
    private static final long serialVersionUID = 1L;

    public DriverException(String message) {
        super(message);
    }

    public DriverException(String message, Throwable cause) {
        super(message, cause);
    }
}
