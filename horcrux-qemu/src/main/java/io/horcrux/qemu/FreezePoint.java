package io.horcrux.qemu;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An internal fault-injection hook, for tests of fencing only: with the system property
 * {@value #PROPERTY} set to {@code <step>:<vm id>}, the JVM stops itself (SIGSTOP, sent by
 * {@code kill} with an argument list) when the driver reaches that step for that VM, once per
 * JVM, and runs on when someone sends it SIGCONT. That is the one way to freeze a JVM at an
 * exact instruction of its own from outside. Steps: {@value #QEMU_FORKED}, right after the
 * QEMU launcher process was forked, before the driver knows the daemon's pid or has spoken
 * QMP to it. Unset (always, outside such tests) it costs one property read per start.
 */
final class FreezePoint {
    private static final Logger log = LoggerFactory.getLogger(FreezePoint.class);
    /** The system property naming the step and the VM. */
    static final String PROPERTY = "horcrux.internal.freezeAt";
    /** The step right after QEMU's launcher forked. */
    static final String QEMU_FORKED = "qemu-forked";
    private static final AtomicBoolean FROZE = new AtomicBoolean();

    private FreezePoint() {
    }

    /** Stops this JVM with SIGSTOP if the property names {@code step} for {@code vmId}, the first time only. */
    static void reached(String step, String vmId) {
        String wanted = System.getProperty(PROPERTY);
        if (wanted == null || !wanted.equals(step + ":" + vmId) || !FROZE.compareAndSet(false, true)) {
            return;
        }
        log.warn("VM {}: freezing this JVM at step {} ({} is set)", vmId, step, PROPERTY);
        try {
            Process kill = new ProcessBuilder(List.of("kill", "-STOP", Long.toString(ProcessHandle.current().pid())))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            kill.waitFor(); // returns once SIGCONT has let the JVM run on
        } catch (IOException e) {
            log.error("VM {}: could not freeze at step {}", vmId, step, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
