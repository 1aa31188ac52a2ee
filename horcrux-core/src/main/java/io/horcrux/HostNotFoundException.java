package io.horcrux;

/**
 * No host of that name is known to the inventory: a host is known once a manager has run as it
 * on this inventory (it took a lease); on a single-host store only the manager's own host is
 * known. Nothing was changed.
 */
public class HostNotFoundException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String host;

    public HostNotFoundException(String host, java.util.Collection<String> known) {
        super("no host named '" + host + "' is known to the inventory; known hosts: " + known);
        this.host = host;
    }

    /** The host name that was asked for. */
    public String host() {
        return host;
    }
}
