package io.horcrux;

import io.horcrux.model.BatchResult;
import io.horcrux.model.Vm;
import io.horcrux.model.VmStats;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's live stats: checks that the VM is {@code RUNNING} or {@code PAUSED}, then asks
 * the driver. A read, so it takes no lock of the VM and may run beside its lifecycle
 * operations. A VM that stops between the check and the driver's answer, or whose end the
 * driver saw before the manager heard of it, is refused as not running (in the status the
 * manager or the driver gives it) rather than reported as a driver failure. Many VMs are read
 * on the batch executor, each over its own monitor.
 */
final class LiveStats {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);
    private static final String OPERATION = "read the stats of";

    private final VmDriver driver;
    private final Function<String, Optional<Vm>> find;
    private final BatchRunner batches;

    LiveStats(VmDriver driver, Function<String, Optional<Vm>> find, BatchRunner batches) {
        this.driver = driver;
        this.find = find;
        this.batches = batches;
    }

    /** The stats of one VM; see {@link VmManager#stats(String)}. */
    VmStats of(String id) {
        requireActive(id);
        try {
            return driver.stats(id);
        } catch (DriverException e) {
            VmStatus now = find.apply(id).map(Vm::status).orElseThrow(() -> new VmNotFoundException(id));
            if (hasStats(now)) {
                // The driver may have seen the process end before its notice reached the manager.
                try {
                    now = driver.status(id);
                } catch (RuntimeException notKnown) {
                    e.addSuppressed(notKnown);
                    throw e;
                }
            }
            if (!hasStats(now)) {
                IllegalVmStateException stopped = new IllegalVmStateException(id, now, OPERATION);
                stopped.initCause(e);
                throw stopped;
            }
            throw e;
        } catch (RuntimeException e) {
            throw Lifecycle.driverFailure(OPERATION, id, e);
        }
    }

    /** The stats of each running or paused VM of {@code ids}; see {@link VmManager#statsAll(Collection)}. */
    Map<String, VmStats> ofAll(Collection<String> ids) {
        BatchResult<Map.Entry<String, VmStats>> result = batches.run(ids, id -> Map.entry(id, of(id)));
        Map<String, VmStats> stats = new LinkedHashMap<>();
        for (Map.Entry<String, VmStats> entry : result.succeeded()) {
            stats.put(entry.getKey(), entry.getValue());
        }
        result.failed().forEach((id, failure) -> {
            if (failure instanceof VmNotFoundException || failure instanceof IllegalVmStateException) {
                log.debug("VM {}: no stats: {}", id, failure.getMessage());
            } else {
                log.warn("VM {}: could not read its stats: {}", id, failure.toString());
            }
        });
        return Collections.unmodifiableMap(stats);
    }

    /** Whether a VM in this status has a process to read: {@code RUNNING} or {@code PAUSED}. */
    private static boolean hasStats(VmStatus status) {
        return status == VmStatus.RUNNING || status == VmStatus.PAUSED;
    }

    private void requireActive(String id) {
        Vm vm = find.apply(id).orElseThrow(() -> new VmNotFoundException(id));
        if (!hasStats(vm.status())) {
            throw new IllegalVmStateException(id, vm.status(), OPERATION);
        }
    }
}
