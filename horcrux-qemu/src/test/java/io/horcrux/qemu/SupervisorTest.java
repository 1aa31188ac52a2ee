package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.internal.HostProcess;
import io.horcrux.model.VmStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Supervision driven by a fake monitor that reports run states on demand, with a harmless
 * stand-in process ({@code sleep}) as the VM's process: what a STOP means depends on the run
 * state QEMU reports, and a guest the hypervisor cannot run ends CRASHED, its process ended.
 */
class SupervisorTest {
    private static final String REASON = "the hypervisor could not run the guest's code (test)";

    @TempDir
    Path dir;
    private Process standIn;
    private ExecutorService pool;
    private FakeQmpServer server;
    private final ProcessTable table = new ProcessTable();
    private final BlockingQueue<String> notices = new LinkedBlockingQueue<>();
    private Supervisor supervisor;
    private QemuProcess vm;

    @BeforeEach
    void start() throws Exception {
        standIn = new ProcessBuilder("sleep", "600").start();
        pool = Executors.newCachedThreadPool();
        supervisor = new Supervisor(table, new StopSequence(Duration.ofSeconds(5)), pool, REASON);
        supervisor.setObserver((id, status, reason) -> notices.add(id + " " + status + " " + reason));
    }

    @AfterEach
    void stop() throws Exception {
        supervisor.close();
        standIn.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        pool.shutdownNow();
        if (server != null) {
            server.close();
        }
    }

    /** Connects a process of VM "vm1" to a fake monitor that reports {@code runState} and refuses {@code quit}. */
    private void supervise(String runState, String... eventsOnStop) throws Exception {
        VmFiles files = VmFiles.of(dir, "vm1");
        Files.createDirectories(files.directory());
        server = new FakeQmpServer(files.qmpSocket(), (command, connection) -> {
            switch (command.execute()) {
                case "stop" -> {
                    for (String event : eventsOnStop) {
                        connection.event(event);
                    }
                    connection.reply(command, "{}");
                }
                case "cont" -> {
                    connection.event("RESUME");
                    connection.reply(command, "{}");
                }
                case "query-status" -> connection.reply(command,
                        "{\"status\": \"" + runState + "\", \"running\": " + runState.equals("running") + "}");
                default -> connection.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"refused\"}"
                        + command.idMember() + "}\n");
            }
        });
        long pid = standIn.pid();
        vm = new QemuProcess("vm1", files, pid, HostProcess.stat(pid).orElseThrow().startTicks(), pool);
        QmpClient client = QmpClient.connect(files.qmpSocket(), Duration.ofSeconds(5), "vm1",
                event -> supervisor.onEvent(vm, event), QmpClient.MAX_LINE_BYTES, vm::isGone);
        vm.connected(client);
        client.disconnected().thenAccept(reason -> supervisor.onDisconnect(vm, reason));
        table.register(vm);
    }

    private String nextNotice() throws InterruptedException {
        String notice = notices.poll(20, TimeUnit.SECONDS);
        assertThat(notice).as("a notice").isNotNull();
        return notice;
    }

    @Test
    void aStopInRunStateInternalErrorIsACrashAndTheProcessIsEnded() throws Exception {
        supervise(QemuDriver.INTERNAL_ERROR, "STOP");
        vm.qmp().execute("stop");
        assertThat(nextNotice()).isEqualTo("vm1 CRASHED " + REASON);
        assertThat(standIn.waitFor(10, TimeUnit.SECONDS)).as("the stand-in process was ended").isTrue();
        assertThat(table.hasCrashed("vm1")).isTrue();
        assertThat(table.isRunning("vm1")).isFalse();
        assertThat(vm.status()).isEqualTo(VmStatus.CRASHED);
        Thread.sleep(200);
        assertThat(notices).as("never PAUSED, one notice only").isEmpty();
    }

    @Test
    void aStopInRunStatePausedIsAPauseAndAResumeComesAfterIt() throws Exception {
        supervise("paused", "STOP");
        vm.qmp().execute("stop");
        vm.qmp().execute("cont");
        assertThat(List.of(nextNotice(), nextNotice()))
                .containsExactly("vm1 PAUSED paused (STOP event)", "vm1 RUNNING resumed (RESUME event)");
        assertThat(standIn.isAlive()).isTrue();
        assertThat(table.isRunning("vm1")).isTrue();
    }

    @Test
    void aPanicFollowedByItsStopIsOneCrash() throws Exception {
        supervise("guest-panicked", "GUEST_PANICKED", "STOP");
        vm.qmp().execute("stop");
        assertThat(nextNotice()).isEqualTo("vm1 CRASHED guest panicked");
        Thread.sleep(200);
        assertThat(notices).isEmpty();
        assertThat(vm.status()).isEqualTo(VmStatus.CRASHED);
    }
}
