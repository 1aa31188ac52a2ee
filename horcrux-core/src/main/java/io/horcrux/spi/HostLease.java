package io.horcrux.spi;

import io.horcrux.model.Vm;
import java.time.Instant;
import java.util.Objects;

/**
 * One host's lease on a shared inventory, as the database has it. The epoch is the fencing
 * token: it grows by one each time the host's lease is taken, and a write carrying an older
 * epoch is refused by the database.
 *
 * @param host      the host's name, by the rule of {@link Vm#isHostName}
 * @param epoch     the fencing token, at least 1
 * @param expiresAt when the lease runs out unless renewed, by the database's clock
 */
public record HostLease(String host, long epoch, Instant expiresAt) {
    public HostLease {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(expiresAt, "expiresAt");
        if (!Vm.isHostName(host)) {
            throw new IllegalArgumentException("host '" + host + "' " + Vm.hostNameRule());
        }
        if (epoch < 1) {
            throw new IllegalArgumentException("epoch must be at least 1, was " + epoch);
        }
    }
}
