package io.horcrux.qemu;

import io.horcrux.DriverException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Chooses the accelerator and CPU model a driver's VMs run with, from evidence: each candidate
 * is tried by running the {@link ProbePayload} under it ({@link Runner}), never guessed from
 * {@code /proc/cpuinfo} or from {@code /dev/kvm} opening.
 *
 * <p>Under KVM the candidates are, in order: {@code host} (the host CPU passed through: the
 * fastest), {@code max}, the best named 64-bit model that QEMU's {@code query-cpu-definitions}
 * reports usable under KVM (no {@code unavailable-features}; best is the first of
 * {@link #NAMED_MODELS_BEST_FIRST}), and {@code qemu64}. The first one whose payload runs to
 * the end wins. When none does (or {@code /dev/kvm} does not open), {@link Accelerator#AUTO}
 * falls back to TCG with {@code max}, checked the same way.
 *
 * <p>An explicit model is only checked: a model QEMU does not know, or one the host refuses
 * (QEMU will not start with it), fails; one that starts under KVM but whose guest code fails
 * is kept with a warning, since the user asked for it (its guests will crash with a reason).
 */
final class HostProbe {
    /** The CPU model of TCG when none is given: every feature QEMU can emulate. */
    static final String TCG_DEFAULT_MODEL = "max";
    /** What a CPU model name may be: QEMU's model names, and nothing QEMU parses as options. */
    static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /**
     * Named x86-64 models, newest first within each vendor, that may stand in for {@code host}
     * when QEMU reports every one of their features usable under KVM. 32-bit models
     * ({@code pentium3}, {@code 486}...) are never candidates: they cannot run a 64-bit guest.
     */
    static final List<String> NAMED_MODELS_BEST_FIRST = List.of(
            "EPYC-Genoa", "EPYC-Milan", "EPYC-Rome", "EPYC", "Dhyana",
            "SapphireRapids", "Icelake-Server", "Icelake-Server-noTSX", "Cooperlake",
            "Cascadelake-Server", "Cascadelake-Server-noTSX", "Skylake-Server", "Skylake-Server-noTSX-IBRS",
            "Skylake-Client", "Skylake-Client-noTSX-IBRS", "Broadwell", "Broadwell-noTSX", "Haswell",
            "Haswell-noTSX", "IvyBridge", "SandyBridge", "Westmere", "Nehalem", "Penryn", "Conroe",
            "Opteron_G5", "Opteron_G4", "Opteron_G3", "Opteron_G2", "Opteron_G1");

    /** How one candidate fared. */
    enum Outcome {
        /** The payload ran to its end: this candidate runs guests. */
        RAN,
        /** QEMU started, but the guest code did not run to its end (a hypervisor error, a fault, a hang). */
        GUEST_FAILED,
        /** QEMU would not start with it (for example KVM refused a CPU register QEMU sets). */
        REFUSED,
        /** QEMU does not know the CPU model. */
        UNKNOWN_MODEL
    }

    /** One candidate tried: {@code detail} holds QEMU's own words when it did not run. */
    record Attempt(Accelerator accelerator, String cpuModel, Outcome outcome, String detail) {
        Attempt {
            Objects.requireNonNull(accelerator, "accelerator");
            Objects.requireNonNull(cpuModel, "cpuModel");
            Objects.requireNonNull(outcome, "outcome");
            detail = detail == null ? "" : detail;
        }

        boolean ran() {
            return outcome == Outcome.RAN;
        }

        /** For example {@code "KVM refused -cpu host: failed to set MSR 0x10a"}. */
        String describe() {
            String what = accelerator + " -cpu " + cpuModel;
            return switch (outcome) {
                case RAN -> what + " runs guest code";
                case GUEST_FAILED -> accelerator + " starts -cpu " + cpuModel + " but cannot run guest code: " + detail;
                case REFUSED -> accelerator + " refused -cpu " + cpuModel + ": " + detail;
                case UNKNOWN_MODEL -> "QEMU does not know CPU model '" + cpuModel + "': " + detail;
            };
        }
    }

    /**
     * The probe's answer: what VMs run with, every candidate tried on the way, and whether the
     * choice deserves a warning (a fall-back to TCG although {@code /dev/kvm} opens, or an explicit
     * model whose guest code fails).
     */
    record Choice(Accelerator accelerator, String cpuModel, List<Attempt> attempts, boolean warning) {
        Choice {
            if (accelerator == Accelerator.AUTO) {
                throw new IllegalArgumentException("a choice is KVM or TCG");
            }
            Objects.requireNonNull(cpuModel, "cpuModel");
            attempts = List.copyOf(attempts);
        }

        /** One line for the log: what was chosen and, when something was refused, QEMU's words. */
        String summary() {
            String chosen = "accelerator " + accelerator + ", CPU model " + cpuModel;
            List<String> refused = attempts.stream().filter(a -> !a.ran()).map(Attempt::describe).toList();
            return refused.isEmpty() ? chosen : chosen + " (" + String.join("; ", refused) + ")";
        }
    }

    /** Runs candidates for real; {@link QemuProbeRunner} starts QEMU, tests script the answers. */
    interface Runner {
        /** Runs the payload under the candidate. */
        Attempt run(Accelerator accelerator, String cpuModel);

        /** The CPU models QEMU reports usable under KVM here, in QEMU's order; empty if it cannot tell. */
        List<String> usableKvmModels();
    }

    private final Runner runner;
    private final boolean kvmDeviceOpens;

    /**
     * @param kvmDeviceOpens whether {@code /dev/kvm} opens for reading and writing: without it
     *                       no KVM candidate can run, so none is tried
     */
    HostProbe(Runner runner, boolean kvmDeviceOpens) {
        this.runner = Objects.requireNonNull(runner, "runner");
        this.kvmDeviceOpens = kvmDeviceOpens;
    }

    /** Checks a CPU model name given by a user, before it reaches a command line. */
    static String requireModelName(String model) {
        Objects.requireNonNull(model, "cpuModel");
        if (!MODEL_NAME.matcher(model).matches()) {
            throw new IllegalArgumentException("cpuModel must be a QEMU CPU model name: a letter or digit, then up to 63"
                    + " letters, digits, '.', '_' or '-' (no commas, spaces or feature flags); was '"
                    + model.replaceAll("\\p{Cntrl}", "?") + "'");
        }
        return model;
    }

    /**
     * Chooses for the requested accelerator and, when not null, the explicit CPU model.
     *
     * @throws DriverException when nothing requested can run guests here, naming what was tried,
     *                         QEMU's words, and what does work
     */
    Choice choose(Accelerator requested, String explicitModel) {
        Objects.requireNonNull(requested, "accelerator");
        if (explicitModel != null) {
            return chooseExplicit(requested, requireModelName(explicitModel));
        }
        return switch (requested) {
            case TCG -> {
                Attempt tcg = runner.run(Accelerator.TCG, TCG_DEFAULT_MODEL);
                if (!tcg.ran()) {
                    throw new DriverException("QEMU cannot run guest code even under TCG: " + tcg.describe());
                }
                yield new Choice(Accelerator.TCG, TCG_DEFAULT_MODEL, List.of(tcg), false);
            }
            case KVM -> {
                requireKvmDevice();
                List<Attempt> tried = tryKvmCandidates();
                Attempt last = tried.get(tried.size() - 1);
                if (!last.ran()) {
                    throw new DriverException("accelerator KVM was requested but no CPU model runs guest code under KVM"
                            + " here: " + describeAll(tried) + "; use Accelerator.AUTO or TCG");
                }
                yield new Choice(Accelerator.KVM, last.cpuModel(), tried, false);
            }
            case AUTO -> {
                List<Attempt> tried = new ArrayList<>(kvmDeviceOpens ? tryKvmCandidates() : List.of());
                if (!tried.isEmpty() && tried.get(tried.size() - 1).ran()) {
                    yield new Choice(Accelerator.KVM, tried.get(tried.size() - 1).cpuModel(), tried, false);
                }
                Attempt tcg = runner.run(Accelerator.TCG, TCG_DEFAULT_MODEL);
                tried.add(tcg);
                if (!tcg.ran()) {
                    throw new DriverException("QEMU cannot run guest code here: " + describeAll(tried));
                }
                yield new Choice(Accelerator.TCG, TCG_DEFAULT_MODEL, tried, kvmDeviceOpens);
            }
        };
    }

    private Choice chooseExplicit(Accelerator requested, String model) {
        if (requested == Accelerator.TCG || (requested == Accelerator.AUTO && !kvmDeviceOpens)) {
            Attempt tcg = runner.run(Accelerator.TCG, model);
            if (!tcg.ran()) {
                throw modelFails(model, List.of(tcg));
            }
            return new Choice(Accelerator.TCG, model, List.of(tcg), false);
        }
        if (requested == Accelerator.KVM) {
            requireKvmDevice();
        }
        Attempt kvm = runner.run(Accelerator.KVM, model);
        if (kvm.ran()) {
            return new Choice(Accelerator.KVM, model, List.of(kvm), false);
        }
        if (kvm.outcome() == Outcome.UNKNOWN_MODEL) {
            throw modelFails(model, List.of(kvm));
        }
        if (requested == Accelerator.KVM) {
            if (kvm.outcome() == Outcome.GUEST_FAILED) {
                // Asked for by name: kept, with a warning; its guests end as CRASHED with the reason.
                return new Choice(Accelerator.KVM, model, List.of(kvm), true);
            }
            throw modelFails(model, List.of(kvm));
        }
        Attempt tcg = runner.run(Accelerator.TCG, model);
        if (!tcg.ran()) {
            throw modelFails(model, List.of(kvm, tcg));
        }
        return new Choice(Accelerator.TCG, model, List.of(kvm, tcg), true);
    }

    /** The failure of an explicit model: what QEMU said, and the candidates that do run here. */
    private DriverException modelFails(String model, List<Attempt> tried) {
        Set<String> working = new LinkedHashSet<>();
        if (kvmDeviceOpens) {
            tryKvmCandidates().stream().filter(Attempt::ran).forEach(a -> working.add("KVM " + a.cpuModel()));
        }
        Attempt tcg = runner.run(Accelerator.TCG, TCG_DEFAULT_MODEL);
        if (tcg.ran()) {
            working.add("TCG " + TCG_DEFAULT_MODEL);
        }
        return new DriverException("CPU model '" + model + "' cannot be used here: " + describeAll(tried)
                + "; what runs guest code here: " + (working.isEmpty() ? "nothing" : String.join(", ", working))
                + " (or leave cpuModel unset to choose automatically)");
    }

    /** Tries the KVM candidates in order up to the first that runs; the last attempt is the answer. */
    private List<Attempt> tryKvmCandidates() {
        List<Attempt> tried = new ArrayList<>();
        for (String model : List.of("host", "max")) {
            Attempt attempt = runner.run(Accelerator.KVM, model);
            tried.add(attempt);
            if (attempt.ran()) {
                return tried;
            }
        }
        List<String> usable = runner.usableKvmModels();
        for (String model : NAMED_MODELS_BEST_FIRST) {
            if (usable.contains(model)) {
                Attempt attempt = runner.run(Accelerator.KVM, model);
                tried.add(attempt);
                if (attempt.ran()) {
                    return tried;
                }
                break; // the best usable named model failed: the older ones share its fate, qemu64 is last
            }
        }
        tried.add(runner.run(Accelerator.KVM, "qemu64"));
        return tried;
    }

    private void requireKvmDevice() {
        if (!kvmDeviceOpens) {
            throw new DriverException("accelerator KVM was requested but /dev/kvm cannot be opened for reading"
                    + " and writing (no hardware virtualisation, kvm module not loaded, or no permission:"
                    + " add the user to group 'kvm'); use Accelerator.AUTO or TCG");
        }
    }

    private static String describeAll(List<Attempt> attempts) {
        return attempts.stream().map(Attempt::describe).collect(Collectors.joining("; "));
    }
}
