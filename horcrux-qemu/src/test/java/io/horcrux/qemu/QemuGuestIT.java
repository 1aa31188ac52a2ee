package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.ConsoleTimeoutException;
import io.horcrux.IllegalVmStateException;
import io.horcrux.VmConsole;
import io.horcrux.VmManager;
import io.horcrux.model.BootSpec;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import io.horcrux.spi.VmStore;
import io.horcrux.testkit.InMemoryVmStore;
import io.horcrux.testkit.TestGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real Linux guest (the test guest of {@code scripts/build-test-guest}) under a manager over the
 * QEMU driver, with the accelerator its probe chose: the console (readiness line, a command and
 * its answer, reattach, a flood), and what the guest does by itself (power off, reboot, panic).
 * Guest waits are generous: a shared 2-core machine may take several times the median to boot.
 */
class QemuGuestIT {
    private static final Duration BOOT = Duration.ofSeconds(90);
    private static final Duration ANSWER = Duration.ofSeconds(30);
    private static final int CONSOLE_BYTES = 64 * 1024;
    private static TestGuest guest;
    private static Path root;

    private Path state;
    private VmStore store;
    private VmManager manager;
    private final BlockingQueue<VmEvent> events = new LinkedBlockingQueue<>();

    @BeforeAll
    static void locateGuest() throws Exception {
        guest = TestGuest.locate();
        root = QemuItSupport.newStateDirectory("guests");
    }

    @AfterAll
    static void noQemuLeft() {
        QemuItSupport.assertNoQemuLeftUnder(root);
    }

    @BeforeEach
    void open() throws Exception {
        state = Files.createTempDirectory(root, "s");
        store = InMemoryVmStore.create();
        manager = open(store, true);
    }

    private VmManager open(VmStore inventory, boolean stopVmsOnClose) {
        VmManager opened = VmManager.builder().store(inventory)
                .driver(QemuDriver.builder().stateDirectory(state).consoleLogBytes(CONSOLE_BYTES)
                        .qmpTimeout(Duration.ofSeconds(30)).build())
                .stopVmsOnClose(stopVmsOnClose).build();
        opened.subscribe(events::add);
        return opened;
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private Vm bootGuest(String id) {
        manager.create(VmSpec.builder().id(id).memoryMiB(256).cpus(1).disk(DiskSpec.qcow2("root", 64L << 20))
                .boot(BootSpec.kernel(guest.kernel().toString(), guest.initrd().toString(), guest.cmdline())).build());
        Vm vm = manager.start(id);
        manager.console(id).await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
        return vm;
    }

    /** Runs a command in the guest's shell and returns the line it printed after a marker. */
    private static String run(VmConsole console, String command, String marker) {
        console.write(command + "; echo " + marker + "=$?\n");
        return console.await(Pattern.compile("^" + marker + "="), ANSWER);
    }

    private VmEvent nextEvent(String id, VmStatus status) throws InterruptedException {
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (System.nanoTime() < deadline) {
            VmEvent event = events.poll(1, TimeUnit.SECONDS);
            if (event != null && event.isStatusChange() && event.vmId().equals(id) && event.newStatus() == status
                    && event.previousStatus() != VmStatus.STARTING) {
                return event;
            }
        }
        throw new AssertionError("no event to " + status + " for " + id + "; console:\n" + manager.console(id).output());
    }

    @Test
    void theGuestAnswersOnItsConsoleAndPowersItselfOffWhenAskedWithinTheGrace() {
        bootGuest("answer");
        VmConsole console = manager.console("answer");
        console.write("echo \"answer: $((6*7))\"\n");
        assertThat(console.await(Pattern.compile("^answer: \\d+$"), ANSWER)).isEqualTo("answer: 42");
        assertThat(console.output()).contains(guest.readyLine()).contains("answer: 42");
        long started = System.nanoTime();
        Vm stopped = manager.stop("answer", Duration.ofSeconds(60));
        assertThat(stopped.status()).isEqualTo(VmStatus.STOPPED);
        assertThat(stopped.statusReason()).isEqualTo("the guest powered off when asked");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the guest honoured ACPI: no escalation")
                .isLessThan(Duration.ofSeconds(20));
        assertThat(console.output()).as("the last run's output after the stop").contains("answer: 42");
        assertThatThrownBy(() -> console.write("ls\n")).isInstanceOf(IllegalVmStateException.class);
        assertThatThrownBy(() -> console.await(Pattern.compile("never"), Duration.ofSeconds(60)))
                .isInstanceOf(ConsoleTimeoutException.class).hasMessageContaining("before the VM stopped")
                .hasMessageContaining("answer: 42");
    }

    @Test
    void aGuestThatPowersOffByItselfIsStoppedWithTheReason() throws Exception {
        bootGuest("off");
        manager.console("off").write("poweroff -f\n");
        VmEvent stopped = nextEvent("off", VmStatus.STOPPED);
        assertThat(stopped.reason()).contains("guest powered off");
        assertThat(QemuItSupport.qemuProcessesUnder(state.resolve("off"))).isEmpty();
    }

    @Test
    void aGuestThatRebootsStaysRunningTheResetIsReportedAndTheConsoleShowsTheSecondBoot() throws Exception {
        bootGuest("reboot");
        VmConsole console = manager.console("reboot");
        console.write("reboot -f\n");
        VmEvent reset = nextEvent("reboot", VmStatus.RUNNING);
        assertThat(reset.previousStatus()).isEqualTo(VmStatus.RUNNING);
        assertThat(reset.reason()).contains("guest rebooted");
        long deadline = System.nanoTime() + BOOT.toNanos();
        while (console.output().split(Pattern.quote(guest.readyLine()), -1).length < 3) {
            assertThat(System.nanoTime()).as("a second readiness line; console:\n%s", console.output()).isLessThan(deadline);
            Thread.sleep(100);
        }
        assertThat(manager.get("reboot").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(run(console, "true", "after-reboot")).isEqualTo("after-reboot=0");
    }

    @Test
    void aGuestKernelPanicIsACrashWithTheReasonAndQemuEnds() throws Exception {
        bootGuest("panic");
        manager.console("panic").write("echo c > /proc/sysrq-trigger\n");
        VmEvent crashed = nextEvent("panic", VmStatus.CRASHED);
        assertThat(crashed.reason()).contains("guest panicked");
        QemuItSupport.await("QEMU to end", BOOT, () -> QemuItSupport.qemuProcessesUnder(state.resolve("panic")).isEmpty());
        assertThat(manager.console("panic").output()).contains("Kernel panic");
        assertThat(manager.start("panic").status()).as("a crashed VM starts again").isEqualTo(VmStatus.RUNNING);
        manager.console("panic").await(Pattern.compile(Pattern.quote(guest.readyLine())), BOOT);
    }

    @Test
    void theConsoleLogSurvivesAManagerRestartAndTheReattachedConsoleTakesInput() {
        manager.close(); // the default manager, and its store: this test builds its own
        store = InMemoryVmStore.create();
        // The first manager leaves its guest running, and its inventory open for the next one.
        VmStore shared = store;
        VmStore keptOpen = (VmStore) java.lang.reflect.Proxy.newProxyInstance(VmStore.class.getClassLoader(),
                new Class<?>[] {VmStore.class}, (proxy, method, args) -> {
                    if (method.getName().equals("close")) {
                        return null;
                    }
                    try {
                        return method.invoke(shared, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        manager = open(keptOpen, false);
        bootGuest("stay");
        run(manager.console("stay"), "echo before-restart", "mark1");
        manager.close();
        // A new manager over the same inventory and state directory reattaches to the running guest.
        manager = open(store, true);
        VmConsole console = manager.console("stay");
        assertThat(manager.get("stay").status()).isEqualTo(VmStatus.RUNNING);
        assertThat(console.output()).contains(guest.readyLine()).contains("before-restart");
        assertThat(run(console, "echo after-restart", "mark2")).isEqualTo("mark2=0");
        assertThat(console.output()).contains("after-restart");
    }

    @Test
    void aGuestThatFloodsItsConsoleNeverGrowsTheLogPastItsBound() throws Exception {
        bootGuest("flood");
        VmConsole console = manager.console("flood");
        console.write("yes flood-flood-flood | head -c 1000000; echo; echo flood-done\n");
        console.await(Pattern.compile("^flood-done$"), Duration.ofSeconds(120));
        assertThat(console.output().length()).isLessThanOrEqualTo(CONSOLE_BYTES);
        assertThat(Files.size(state.resolve("flood").resolve("serial.log"))).isLessThanOrEqualTo(2L * CONSOLE_BYTES);
        assertThat(console.output()).as("the oldest output went first").doesNotContain(guest.readyLine())
                .contains("flood-flood-flood\r\n").contains("flood-done");
    }
}
