package io.horcrux.internal;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Crash and fencing tests' hook: a named step of an operation at which the process can be made
 * to die, or to freeze, on demand, as a {@code kill -9} or a {@code kill -STOP} at exactly that
 * instant would, which no real part can be made to do reliably from outside.
 * <ul>
 *   <li>{@code -D}{@value #PROPERTY}{@code =<step>}: the JVM halts ({@link Runtime#halt}: no
 *       shutdown hook, no {@code finally}, no flush) the first time that step is reached, with
 *       exit status {@value #EXIT_STATUS}.</li>
 *   <li>{@code -D}{@value #FREEZE_PROPERTY}{@code =<step>}: the JVM stops itself (SIGSTOP, sent
 *       by {@code kill} with an argument list) the first time that step is reached, and runs on
 *       when someone sends it SIGCONT.</li>
 * </ul>
 * Without either property every call does nothing but read them.
 *
 * <p>The steps (each is named where it is reached):
 * <ul>
 *   <li>{@code snapshot.after-driver}, {@code revert.after-driver}, {@code delete-snapshot.after-driver}:
 *       the driver has acted on the images and the inventory has not recorded it yet;</li>
 *   <li>{@code qemu.snapshot-save.started}, {@code qemu.snapshot-load.started},
 *       {@code qemu.snapshot-delete.started}: QEMU has accepted the job and runs it;</li>
 *   <li>{@code qemu.offline-snapshot.first-disk}: {@code qemu-img snapshot -c} has run on the first
 *       disk of a stopped VM and not on the others;</li>
 *   <li>{@code qemu-forked:<vm id>}: the QEMU launcher process of that VM was forked, before the
 *       driver knows the daemon's pid or has spoken QMP to it.</li>
 * </ul>
 */
public final class FaultPoint {
    private static final Logger log = LoggerFactory.getLogger(FaultPoint.class);
    /** The system property that names the step to halt at. */
    public static final String PROPERTY = "horcrux.internal.haltAt";
    /** The system property that names the step to freeze at. */
    public static final String FREEZE_PROPERTY = "horcrux.internal.freezeAt";
    /** The exit status of a halt, that of a process killed by signal 9. */
    public static final int EXIT_STATUS = 137;
    private static final AtomicBoolean FROZE = new AtomicBoolean();

    private FaultPoint() {
    }

    /**
     * Halts the JVM if {@code step} is the one named by {@link #PROPERTY}, or stops it (the first
     * time only) if it is the one named by {@link #FREEZE_PROPERTY}; otherwise returns.
     */
    public static void reach(String step) {
        if (step.equals(System.getProperty(PROPERTY))) {
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
        if (step.equals(System.getProperty(FREEZE_PROPERTY)) && FROZE.compareAndSet(false, true)) {
            freeze(step);
        }
    }

    private static void freeze(String step) {
        log.warn("freezing this JVM at step {} ({} is set)", step, FREEZE_PROPERTY);
        try {
            Process kill = new ProcessBuilder(List.of("kill", "-STOP", Long.toString(ProcessHandle.current().pid())))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            kill.waitFor(); // returns once SIGCONT has let the JVM run on
        } catch (IOException e) {
            log.error("could not freeze at step {}", step, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
