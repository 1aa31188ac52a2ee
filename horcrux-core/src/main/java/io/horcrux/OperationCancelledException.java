package io.horcrux;

/**
 * The operation was cancelled through its {@link Cancellation} (or its thread was interrupted)
 * before it finished; nothing of it was kept: no row, no disk file, no process.
 */
public class OperationCancelledException extends HorcruxException {
    private static final long serialVersionUID = 1L;

    public OperationCancelledException(String message) {
        super(message);
    }

    public OperationCancelledException(String message, Throwable cause) {
        super(message, cause);
    }
}
