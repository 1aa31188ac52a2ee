package io.horcrux;

import io.horcrux.model.Vm;
import io.horcrux.model.VmStatus;
import java.time.Clock;

/**
 * What a VM becomes when this host takes it over from a host whose lease expired: owned here,
 * the next version, stopped if it was active there (its process was fenced with its host), and
 * a reason that says where it ran and how.
 */
final class Takeovers {
    private final String host;
    private final Clock clock;

    Takeovers(String host, Clock clock) {
        this.host = host;
        this.clock = clock;
    }

    Vm change(Vm vm) {
        boolean ran = vm.status().isActive();
        String reason = "taken over by host " + host + " from host " + vm.owner() + ", whose lease expired"
                + (ran ? "; it was " + vm.status() + " there" : "");
        return new Vm(vm.spec(), ran ? VmStatus.STOPPED : vm.status(), vm.version() + 1, vm.createdAt(),
                clock.instant(), reason, null, host);
    }
}
