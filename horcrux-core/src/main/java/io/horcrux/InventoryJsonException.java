package io.horcrux;

/**
 * The inventory's JSON document could not be written or read: by
 * {@link VmManager#exportJson}, the output stream failed (the cause is the
 * {@link java.io.IOException}); by {@link VmManager#importJson}, the input stream failed, or
 * the bytes are not a document that {@code exportJson} writes (the message says what is wrong
 * and where). Nothing was stored: an import is all or none.
 *
 * <p>A spec in a well-formed document that breaks a rule is an
 * {@link InvalidVmSpecException} instead, and a failing inventory a {@link StoreException}.
 */
public class InventoryJsonException extends HorcruxException {
    private static final long serialVersionUID = 1L;

    public InventoryJsonException(String message, Throwable cause) {
        super(message, cause);
    }
}
