package io.horcrux;

import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery when a manager opens: removes what the driver provisioned for VMs the store does
 * not know. That is a create cut off by a crash after its disks were made and before its row,
 * or a delete cut off after its row was removed and before its disks were. Safe only because
 * the store and the driver each own their inventory and state alone (see their
 * {@code @implSpec}).
 */
final class OrphanSweep {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final VmStore store;
    private final VmDriver driver;

    OrphanSweep(VmStore store, VmDriver driver) {
        this.store = store;
        this.driver = driver;
    }

    /** Removes every orphan; a failure of the driver is logged and the manager opens anyway. */
    void run() {
        Set<String> provisioned;
        try {
            provisioned = driver.provisionedIds();
        } catch (RuntimeException e) {
            log.warn("could not list what the {} driver has provisioned; orphans are left alone", driver.name(), e);
            return;
        }
        Set<String> known = provisioned.isEmpty() ? Set.of() : store.existingIds(provisioned);
        for (String id : provisioned) {
            if (known.contains(id)) {
                continue;
            }
            try {
                driver.removeOrphan(id);
                log.info("VM {}: removed what the driver had provisioned for it; the inventory does not know it"
                        + " (a create or delete cut off by a crash)", id);
            } catch (RuntimeException e) {
                log.warn("VM {}: the inventory does not know it, and what the driver provisioned for it could not be removed",
                        id, e);
            }
        }
    }
}
