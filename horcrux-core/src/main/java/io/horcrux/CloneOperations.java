package io.horcrux;

import io.horcrux.model.CloneMode;
import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskFormat;
import io.horcrux.model.DiskKind;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Violation;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Templates and clones. A template is a stopped VM made {@link VmStatus#TEMPLATE}: the store
 * records the status first and the driver then makes its images read-only bases (a failure of
 * the driver puts the status back). A clone is checked whole before anything is written (the
 * new id, the source's status and ownership, the mode), then provisioned by the driver from the
 * source's images and stored, with its link to the template when linked; a failure or a cancel
 * after the driver began removes what it made, so nothing of the clone is left (a crash in between
 * leaves files no row names, which the next manager's orphan sweep removes; a linked clone first
 * has the driver mark the template again, idempotently, in case a crash cut its making short
 * between the store and the driver). Both VMs' locks
 * are held throughout, taken in id order. Each is told to listeners: {@code TEMPLATE_MADE} on
 * the template, {@code CLONED} on the source (the clone's id as subject) and {@code CREATED} on
 * the clone (the source's id as subject).
 */
final class CloneOperations {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);
    private static final Pattern YAML_INSTANCE_ID = Pattern.compile("(?m)^instance-id[ \\t]*:.*$");
    private static final Pattern JSON_INSTANCE_ID = Pattern.compile("\"instance-id\"\\s*:\\s*\"(?:[^\"\\\\]|\\\\.)*\"");

    private final VmStore store;
    private final VmDriver driver;
    private final VmCache cache;
    private final KeyedLocks locks;
    private final Lifecycle lifecycle;
    private final EventDispatcher events;
    private final StatusRecorder recorder;
    private final Function<String, Optional<Vm>> current;
    private final Clock clock;
    private final String host;

    CloneOperations(VmStore store, VmDriver driver, VmCache cache, KeyedLocks locks, Lifecycle lifecycle,
                    EventDispatcher events, StatusRecorder recorder, Function<String, Optional<Vm>> current, Clock clock,
                    String host) {
        this.store = store;
        this.driver = driver;
        this.cache = cache;
        this.locks = locks;
        this.lifecycle = lifecycle;
        this.events = events;
        this.recorder = recorder;
        this.current = current;
        this.clock = clock;
        this.host = host;
    }

    Vm makeTemplate(String id) {
        return lifecycle.withVm(id, vm -> {
            lifecycle.requireOwned(vm, "make a template of");
            if (vm.status() != VmStatus.STOPPED) {
                throw new IllegalVmStateException(id, vm.status(), "make a template of",
                        "only a STOPPED VM becomes a template");
            }
            Instant now = clock.instant();
            String reason = "made a template";
            Vm template = new Vm(vm.spec(), VmStatus.TEMPLATE, vm.version() + 1, vm.createdAt(), now, reason, null,
                    vm.owner());
            store.update(template, vm.version());
            try {
                driver.makeTemplate(template);
            } catch (RuntimeException e) {
                Vm back = new Vm(vm.spec(), VmStatus.STOPPED, template.version() + 1, vm.createdAt(), clock.instant(),
                        "could not make a template: " + e.getMessage(), null, vm.owner());
                try {
                    store.update(back, template.version());
                    cache.put(back);
                } catch (RuntimeException undo) {
                    cache.invalidate(id);
                    e.addSuppressed(undo);
                }
                throw Lifecycle.driverFailure("make a template of", id, e);
            }
            cache.put(template);
            events.publish(new VmEvent(id, VmEvent.Kind.TEMPLATE_MADE, VmStatus.STOPPED, VmStatus.TEMPLATE, reason, now,
                    template.version(), Optional.empty()));
            log.info("VM {}: made a template; its disks are read-only bases from now on", id);
            return template;
        });
    }

    Vm clone(String sourceId, String newId, String name, CloneMode mode, ProgressListener listener,
             Cancellation cancellation) {
        if (!VmSpec.isValidId(newId)) {
            throw new InvalidVmSpecException(List.of(new Violation("id", Vm.hostNameRule() + "; was '"
                    + newId.replaceAll("\\p{Cntrl}", "?") + "'")));
        }
        if (newId.equals(sourceId)) {
            throw new VmAlreadyExistsException(List.of(newId));
        }
        List<String> ids = List.of(sourceId, newId).stream().sorted().toList();
        try (KeyedLocks.Held held = locks.lockAll(ids)) {
            Vm source = current.apply(sourceId).orElseThrow(() -> new VmNotFoundException(sourceId));
            lifecycle.requireOwned(source, "clone");
            checkSource(source, mode);
            if (!store.existingIds(List.of(newId)).isEmpty()) {
                throw new VmAlreadyExistsException(List.of(newId));
            }
            VmSpec spec = cloneSpec(source.spec(), newId, name); // the driver checks what it needs of it
            Instant now = clock.instant();
            String how = mode == CloneMode.LINKED ? "linked" : "full";
            Vm clone = new Vm(spec, VmStatus.STOPPED, 1, now, now, "cloned from '" + sourceId + "' (" + how + ")", null,
                    host);
            try {
                driver.deprovision(spec); // what a cut-off clone or create of this id left
                if (mode == CloneMode.LINKED) {
                    // Idempotent: finishes a template whose making a crash cut off between the store and the driver.
                    driver.makeTemplate(source);
                }
                driver.provisionClone(source, spec, mode, new LoggedProgress(listener), cancellation);
            } catch (RuntimeException e) {
                throw Lifecycle.driverFailure("clone", sourceId, e);
            }
            try {
                cancellation.throwIfCancelled("cloning VM '" + sourceId + "' to '" + newId + "'");
                if (mode == CloneMode.LINKED) {
                    store.insertLinkedClone(clone, sourceId);
                } else {
                    store.insert(clone);
                }
            } catch (RuntimeException e) {
                try {
                    driver.deprovision(spec);
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            cache.put(clone);
            recorder.announce(VmEvent.Kind.CLONED, source, newId, "cloned to '" + newId + "' (" + how + ")");
            recorder.announce(VmEvent.Kind.CREATED, clone, sourceId, clone.statusReason());
            log.info("VM {}: {} clone of {} made", newId, how, sourceId);
            return clone;
        }
    }

    /** A linked clone only of a template whose changing disks are all qcow2; a full one of a template or a stopped VM. */
    private static void checkSource(Vm source, CloneMode mode) {
        if (mode == CloneMode.LINKED) {
            if (source.status() != VmStatus.TEMPLATE) {
                throw new IllegalVmStateException(source.id(), source.status(), "make a linked clone of",
                        "linked clones are made only of templates (VmManager.makeTemplate), whose disks never"
                        + " change again; make a FULL clone of a stopped VM instead");
            }
            for (DiskSpec disk : source.spec().disks()) {
                if (disk.kind() != DiskKind.CDROM && disk.format() != DiskFormat.QCOW2) {
                    throw new InvalidVmSpecException(List.of(new Violation("disks." + disk.name(), "a linked clone's"
                            + " disks are qcow2 overlays on the template's; disk '" + disk.name() + "' of template '"
                            + source.id() + "' is " + disk.format().qemuName() + " (make a FULL clone instead)")));
                }
            }
        } else if (source.status() != VmStatus.TEMPLATE && source.status() != VmStatus.STOPPED) {
            throw new IllegalVmStateException(source.id(), source.status(), "make a full clone of",
                    "a full clone copies the disks of a template or a STOPPED VM, whose disks do not change meanwhile");
        }
    }

    /**
     * The source's spec with the clone's id and name, new MAC addresses and a new cloud-init
     * instance-id (the clone's id); the rest, labels included, as the source has it.
     */
    static VmSpec cloneSpec(VmSpec source, String newId, String name) {
        VmSpec.Builder b = VmSpec.builder().id(newId).name(name).memoryMiB(source.memoryMiB()).cpus(source.cpus())
                .architecture(source.architecture()).boot(source.boot());
        source.disks().forEach(b::disk);
        for (NicSpec nic : source.nics()) {
            b.nic(new NicSpec(nic.name(), null, nic.mode(), nic.tapDevice(), nic.forwards())); // MAC generated
        }
        source.labels().forEach(b::label);
        CloudInit seed = source.cloudInit();
        if (seed != null) {
            b.cloudInit(seed.metaData() == null ? seed : seed.withMetaData(withInstanceId(seed.metaData(), newId)));
        }
        return b.build();
    }

    /** The meta-data with its instance-id replaced by {@code id} (an id: nothing to escape in YAML or JSON). */
    static String withInstanceId(String metaData, String id) {
        if (metaData.stripLeading().startsWith("{")) {
            return JSON_INSTANCE_ID.matcher(metaData).replaceFirst(Matcher.quoteReplacement("\"instance-id\": \"" + id + "\""));
        }
        return YAML_INSTANCE_ID.matcher(metaData).replaceFirst(Matcher.quoteReplacement("instance-id: " + id));
    }
}
