package io.horcrux;

/**
 * The inventory store failed: the database could not be opened, read or written. The
 * message says which file or operation.
 */
public class StoreException extends HorcruxException {
    private static final long serialVersionUID = 1L;

    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
