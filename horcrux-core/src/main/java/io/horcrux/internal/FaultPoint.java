package io.horcrux.internal;

/**
 * Crash tests' hook: a named step of a long operation at which the process can be made to die
 * on demand, as a {@code kill -9} at exactly that instant would, which no real part can be made
 * to do reliably from outside. Run the JVM with {@code -Dhorcrux.internal.haltAt=<step>} and it
 * halts ({@link Runtime#halt}: no shutdown hook, no {@code finally}, no flush) the first time
 * that step is reached. Without the property every call does nothing but read it.
 *
 * <p>The steps (each is named where it is reached):
 * <ul>
 *   <li>{@code snapshot.after-driver}, {@code revert.after-driver}, {@code delete-snapshot.after-driver}:
 *       the driver has acted on the images and the inventory has not recorded it yet;</li>
 *   <li>{@code qemu.snapshot-save.started}, {@code qemu.snapshot-load.started},
 *       {@code qemu.snapshot-delete.started}: QEMU has accepted the job and runs it;</li>
 *   <li>{@code qemu.offline-snapshot.first-disk}: {@code qemu-img snapshot -c} has run on the first
 *       disk of a stopped VM and not on the others.</li>
 * </ul>
 */
public final class FaultPoint {
    /** The system property that names the step to halt at. */
    public static final String PROPERTY = "horcrux.internal.haltAt";
    /** The exit status of a halt, that of a process killed by signal 9. */
    public static final int EXIT_STATUS = 137;

    private FaultPoint() {
    }

    /** Halts the JVM if {@code step} is the one named by {@link #PROPERTY}; otherwise returns. */
    public static void reach(String step) {
        if (step.equals(System.getProperty(PROPERTY))) {
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
    }
}
