package io.horcrux;

/**
 * This host's lease on a shared inventory is lost or stale: the database refused a write that
 * carried an older fencing token, or the lease expired before it could be renewed. A host in
 * this state changes nothing: it has force-stopped its VMs (fenced itself) and takes a new lease,
 * with a new token, as soon as the database lets it. Nothing was written by the call that threw.
 */
public class LeaseLostException extends StoreException {
    private static final long serialVersionUID = 1L;

    public LeaseLostException(String message) {
        super(message);
    }

    public LeaseLostException(String message, Throwable cause) {
        super(message, cause);
    }
}
