package io.horcrux;

import io.horcrux.model.Violation;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and deletes VMs: the driver's part (disks) and the store's (rows), in the order that
 * lets a crash leave nothing but files that no row names. Disks come before the row on create
 * and go after it on delete; the next create of the id, or the next manager's orphan sweep,
 * removes such files. Each VM created is told to listeners as {@code CREATED}, each deleted as
 * {@code DELETED}, after the store has it.
 */
final class Provisioning {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final VmStore store;
    private final VmDriver driver;
    private final VmCache cache;
    private final StatusRecorder recorder;
    private final KeyedLocks locks;
    private final Clock clock;
    private final long maxMemoryMiB;
    private final String host;

    Provisioning(VmStore store, VmDriver driver, VmCache cache, StatusRecorder recorder, KeyedLocks locks, Clock clock,
                 long maxMemoryMiB, String host) {
        this.host = host;
        this.store = store;
        this.driver = driver;
        this.cache = cache;
        this.recorder = recorder;
        this.locks = locks;
        this.clock = clock;
        this.maxMemoryMiB = maxMemoryMiB;
    }

    /**
     * Checks, provisions and stores new VMs under their locks, all or none.
     *
     * @param indexed whether violations name the spec's index, as a batch reports them
     */
    List<Vm> create(List<VmSpec> specs, boolean indexed) {
        return create(specs, indexed, ProgressListener.NONE, Cancellation.create());
    }

    /**
     * As {@link #create(List, boolean)}, the driver's long work (disk copies) reporting to
     * {@code listener} (and to the log) and stopping when {@code cancellation} is cancelled: a
     * cancelled create stores nothing and leaves nothing provisioned.
     */
    List<Vm> create(List<VmSpec> specs, boolean indexed, ProgressListener listener, Cancellation cancellation) {
        ProgressListener progress = new LoggedProgress(listener);
        checkLimits(specs, indexed);
        specs.forEach(driver::check);
        Instant now = clock.instant();
        List<Vm> vms = specs.stream().map(s -> new Vm(s, VmStatus.STOPPED, 1, now, now, "created", null, host)).toList();
        List<String> ids = specs.stream().map(VmSpec::id).distinct().sorted().toList();
        try (KeyedLocks.Held held = locks.lockAll(ids)) {
            List<String> taken = takenOrRepeated(specs, ids);
            if (!taken.isEmpty()) {
                throw new VmAlreadyExistsException(taken);
            }
            provisionAfresh(specs, progress, cancellation);
            try {
                cancellation.throwIfCancelled("creating " + (ids.size() == 1 ? "VM '" + ids.get(0) + "'" : ids.size() + " VMs"));
                store.insertAll(vms);
            } catch (RuntimeException e) {
                deprovisionAll(specs, e);
                throw e;
            }
            for (Vm vm : vms) {
                cache.put(vm);
                recorder.announce(VmEvent.Kind.CREATED, vm, null, vm.statusReason());
            }
            log.debug("created {} VM(s): {}", vms.size(), ids.size() <= 10 ? ids : ids.subList(0, 10) + "...");
            return vms;
        }
    }

    /**
     * Deletes a VM the caller holds the lock of. The row goes first: a crash in between leaves
     * only files that no row names, never a VM whose disks are gone.
     */
    Vm delete(Vm vm) {
        if (!vm.owner().equals(host)) {
            throw new VmOwnedElsewhereException(vm.id(), vm.owner(), host, "delete");
        }
        if (vm.status() != VmStatus.STOPPED && vm.status() != VmStatus.CRASHED && vm.status() != VmStatus.TEMPLATE) {
            throw new IllegalVmStateException(vm.id(), vm.status(), "delete");
        }
        if (vm.status() == VmStatus.TEMPLATE) {
            List<String> clones = store.linkedClones(vm.id());
            if (!clones.isEmpty()) {
                throw new TemplateInUseException(vm.id(), clones);
            }
        }
        store.delete(vm.id(), vm.version());
        cache.invalidate(vm.id());
        recorder.announce(VmEvent.Kind.DELETED, vm, null, "deleted");
        try {
            driver.deprovision(vm.spec());
        } catch (RuntimeException e) {
            throw Lifecycle.driverFailure("deprovision", vm.id(), e);
        }
        log.debug("deleted VM {}", vm.id());
        return vm;
    }

    /** Ids of the batch that are stored already or repeated in it, in the batch's order; one store call. */
    private List<String> takenOrRepeated(List<VmSpec> specs, List<String> ids) {
        Set<String> taken = store.existingIds(ids);
        Set<String> seen = new HashSet<>();
        LinkedHashSet<String> offending = new LinkedHashSet<>();
        for (VmSpec spec : specs) {
            if (!seen.add(spec.id()) || taken.contains(spec.id())) {
                offending.add(spec.id());
            }
        }
        return new ArrayList<>(offending);
    }

    /**
     * Provisions VMs that have no inventory row (the caller holds their locks and checked),
     * all or none. Whatever an earlier, cut-off create left for these ids is removed first.
     */
    private void provisionAfresh(List<VmSpec> specs, ProgressListener progress, Cancellation cancellation) {
        List<VmSpec> done = new ArrayList<>(specs.size());
        try {
            for (VmSpec spec : specs) {
                driver.deprovision(spec);
                driver.provision(spec, progress, cancellation);
                done.add(spec);
            }
        } catch (RuntimeException e) {
            deprovisionAll(done, e);
            throw Lifecycle.driverFailure("provision", specs.get(done.size()).id(), e);
        }
    }

    private void deprovisionAll(List<VmSpec> specs, RuntimeException cause) {
        for (VmSpec spec : specs) {
            try {
                driver.deprovision(spec);
            } catch (RuntimeException cleanup) {
                cause.addSuppressed(cleanup);
            }
        }
    }

    private void checkLimits(List<VmSpec> specs, boolean indexed) {
        List<Violation> violations = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            VmSpec spec = specs.get(i);
            if (spec == null) {
                violations.add(new Violation("[" + i + "]", "must not be null"));
            } else if (spec.memoryMiB() > maxMemoryMiB) {
                violations.add(new Violation((indexed ? "[" + i + "]." : "") + "memoryMiB",
                        "must be at most " + maxMemoryMiB + " MiB (this manager's limit), was " + spec.memoryMiB()));
            }
        }
        if (!violations.isEmpty()) {
            throw new InvalidVmSpecException(violations);
        }
    }
}
