package io.horcrux.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.testkit.ChildJvm;
import io.horcrux.testkit.PostgresTestDatabase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Three hosts, three JVMs, one PostgreSQL: each host a {@link HostChild} with a state directory
 * of its own and real QEMU processes. VMs are created and listed across hosts and moved; then
 * one host is killed with SIGKILL and another frozen with SIGSTOP past its lease. Their VMs
 * must be taken over (and those marked restarted) only after they fenced themselves or died:
 * a scan of {@code /proc} every 50 ms, for the whole test, finds at no moment two QEMU
 * processes for one VM id (the same two in three scans in a row, 100 ms or more: QEMU's own
 * daemonizing fork shows two processes for a moment at each start).
 */
class SeveralHostsIT {
    @RegisterExtension
    static final PostgresTestDatabase db = new PostgresTestDatabase();

    static final Duration TTL = Duration.ofSeconds(3);
    static final Duration RENEWAL = Duration.ofMillis(500);
    static final Duration GRACE = Duration.ofMillis(1500);

    private Path root;
    private final List<Host> hosts = new ArrayList<>();
    private final ProcessScan scan = new ProcessScan();

    @BeforeEach
    void setUp() throws IOException {
        root = ReliabilityDirectories.create("hosts");
        scan.start();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Host h : hosts) {
            h.resume();
            h.close();
        }
        scan.stop();
        Map<Long, String> left = QemuProcesses.under(root);
        left.keySet().forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        assertThat(left).as("QEMU processes left").isEmpty();
        ReliabilityDirectories.delete(root);
    }

    /** One host's JVM, its stdout read by a thread of its own. */
    final class Host implements AutoCloseable {
        final String name;
        final ChildJvm jvm;
        final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
        final List<String> events = new CopyOnWriteArrayList<>();
        volatile boolean frozen;

        Host(String name) throws IOException, InterruptedException {
            this(name, "several", List.of());
        }

        /**
         * @param schema the inventory's schema: one per test method, which share the database
         * @param extra  more arguments of {@link HostChild} (its fault hook)
         */
        Host(String name, String schema, List<String> extra) throws IOException, InterruptedException {
            this.name = name;
            Path state = Files.createDirectory(root.resolve(name));
            List<String> args = new ArrayList<>(List.of(db.jdbcUrl(), db.user(), db.password(), schema,
                    name, state.toString(), Long.toString(TTL.toMillis()), Long.toString(RENEWAL.toMillis()),
                    Long.toString(GRACE.toMillis())));
            args.addAll(extra);
            jvm = ChildJvm.start(root, HostChild.class, "128m", args.toArray(String[]::new));
            Thread reader = new Thread(() -> {
                try {
                    for (String line = jvm.readLine(); line != null; line = jvm.readLine()) {
                        if (line.startsWith("EVENT ")) {
                            events.add(line);
                        } else {
                            answers.add(line);
                        }
                    }
                } catch (IOException e) {
                    answers.add("EOF " + e);
                }
            }, "host-" + name + "-stdout");
            reader.setDaemon(true);
            reader.start();
            String ready = answers.poll(90, TimeUnit.SECONDS);
            assertThat(ready).as(name + " ready; stderr: " + stderr()).isEqualTo("READY");
        }

        /** Sends a command and returns its answer, {@code OK ...} or {@code ERR ...}. */
        String call(String command) throws IOException, InterruptedException {
            jvm.writeLine(command);
            String answer = answers.poll(90, TimeUnit.SECONDS);
            assertThat(answer).as(name + " answers " + command + "; stderr: " + stderr()).isNotNull();
            return answer;
        }

        String ok(String command) throws IOException, InterruptedException {
            String answer = call(command);
            assertThat(answer).as(name + ": " + command).startsWith("OK " + command);
            return answer.substring(("OK " + command).length()).strip();
        }

        void signal(String signal) throws IOException, InterruptedException {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(jvm.pid())).inheritIO().start();
            assertThat(kill.waitFor()).isZero();
        }

        void freeze() throws IOException, InterruptedException {
            signal("STOP");
            frozen = true;
        }

        void resume() throws IOException, InterruptedException {
            if (frozen) {
                signal("CONT");
                frozen = false;
            }
        }

        String stderr() {
            try {
                return jvm.stderr();
            } catch (IOException e) {
                return "(unreadable: " + e + ")";
            }
        }

        @Override
        public void close() throws Exception {
            try {
                jvm.closeStdin();
                jvm.waitFor();
            } catch (IOException e) {
                // already dead
            } finally {
                jvm.close();
            }
        }
    }

    /** Every 50 ms, the QEMU processes under the test's directory, by VM id; remembers every overlap. */
    final class ProcessScan implements Runnable {
        final List<String> doubles = new CopyOnWriteArrayList<>();
        /** Per VM, the set of pids seen together and in how many scans in a row. */
        private final Map<String, Map.Entry<List<Long>, Integer>> together = new HashMap<>();
        final Map<String, List<Long>> pidsSeen = Collections.synchronizedMap(new HashMap<>());
        /** Per pid of a VM's QEMU, the wall-clock millis of the first scan that saw it, and of the first that no longer did. */
        final Map<Long, Long> firstSeenAt = new java.util.concurrent.ConcurrentHashMap<>();
        final Map<Long, Long> goneAt = new java.util.concurrent.ConcurrentHashMap<>();
        final AtomicBoolean running = new AtomicBoolean(true);
        volatile int scans;
        private Thread thread;

        void start() {
            thread = new Thread(this, "qemu-scan");
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void run() {
            while (running.get()) {
                Map<String, List<Long>> byVm = new HashMap<>();
                QemuProcesses.under(root).forEach((pid, vm) -> {
                    if (!vm.isEmpty()) { // the driver's accelerator probes run no VM
                        byVm.computeIfAbsent(vm, k -> new ArrayList<>()).add(pid);
                    }
                });
                byVm.forEach((vm, pids) -> {
                    pids.removeIf(this::startingUp);
                    java.util.Collections.sort(pids);
                    Map.Entry<List<Long>, Integer> before = together.get(vm);
                    int streak = pids.size() > 1 && before != null && before.getKey().equals(pids) ? before.getValue() + 1 : 1;
                    together.put(vm, Map.entry(List.copyOf(pids), streak));
                    // Three scans in a row (100 ms and more): no start-up moment of one QEMU lasts that long
                    // unseen by the filter above, while two VMs' processes overlap until one is fenced.
                    if (pids.size() > 1 && streak == 3) {
                        doubles.add(System.currentTimeMillis() + ": VM " + vm + " runs in " + pids.stream()
                                .map(pid -> pid + " (parent " + parentOf(pid) + " " + QemuProcesses.commandLine(parentOf(pid))
                                        .stream().findFirst().orElse("gone") + ", state " + QemuProcesses.state(pid)
                                        .orElse('?') + ")").toList());
                    }
                    pids.forEach(pid -> {
                        List<Long> seen = pidsSeen.computeIfAbsent(vm, k -> new CopyOnWriteArrayList<>());
                        if (!seen.contains(pid)) {
                            seen.add(pid);
                        }
                    });
                });
                long now = System.currentTimeMillis();
                java.util.Set<Long> live = new java.util.HashSet<>();
                byVm.values().forEach(live::addAll);
                live.forEach(pid -> firstSeenAt.putIfAbsent(pid, now));
                firstSeenAt.keySet().stream().filter(pid -> !live.contains(pid)).forEach(pid -> goneAt.putIfAbsent(pid, now));
                scans++;
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        /**
         * QEMU daemonizes (fork, setsid, fork): until the daemon is ready, the first process waits
         * for it under the JVM that launched it, and the one in between lives for a moment. Those
         * run no guest; the daemon, whose parent is neither a JVM nor starting up, is the VM.
         */
        private boolean startingUp(long pid) {
            long parent = parentOf(pid);
            boolean underLauncher = isQemu(parent) && isJvm(parentOf(parent));
            return QemuProcesses.commandLine(pid).contains("-daemonize") && (isJvm(parent) || underLauncher);
        }

        private long parentOf(long pid) {
            return ProcessHandle.of(pid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(-1L);
        }

        private boolean isJvm(long pid) {
            List<String> args = QemuProcesses.commandLine(pid);
            return !args.isEmpty() && (args.get(0).endsWith("/java") || args.get(0).equals("java"));
        }

        private boolean isQemu(long pid) {
            List<String> args = QemuProcesses.commandLine(pid);
            return !args.isEmpty() && args.get(0).contains("qemu-system");
        }

        /** The live QEMU pids of one VM now. */
        List<Long> pidsOf(String vm) {
            List<Long> pids = new ArrayList<>();
            QemuProcesses.under(root).forEach((pid, id) -> {
                if (id.equals(vm)) {
                    pids.add(pid);
                }
            });
            pids.removeIf(this::startingUp);
            return pids;
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.join(5_000);
        }
    }

    /** Asks {@code via} for the VM until {@code wanted} holds, up to 90 s; returns {@code id:owner:status}. */
    private static String awaitVm(Host via, String id, Predicate<String> wanted, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        String last = null;
        while (System.nanoTime() < deadline) {
            last = via.ok("get " + id);
            if (wanted.test(last)) {
                return last;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("waiting for " + what + "; last seen " + last + "; events " + via.events
                + "; stderr " + via.stderr());
    }

    @Test
    void threeHostsShareOneInventoryAndNoVmEverRunsTwiceThroughAKillAndAFreeze() throws Exception {
        Host h1 = new Host("h1");
        hosts.add(h1);
        Host h2 = new Host("h2");
        hosts.add(h2);
        Host h3 = new Host("h3");
        hosts.add(h3);

        // Creates and lists across hosts.
        assertThat(h1.ok("create v1 restart")).isEqualTo("v1:h1:STOPPED");
        assertThat(h1.ok("create v2")).isEqualTo("v2:h1:STOPPED");
        assertThat(h2.ok("create v3 restart")).isEqualTo("v3:h2:STOPPED");
        assertThat(h3.ok("create v4")).isEqualTo("v4:h3:STOPPED");
        assertThat(h3.ok("list")).isEqualTo("v1:h1:STOPPED,v2:h1:STOPPED,v3:h2:STOPPED,v4:h3:STOPPED");
        assertThat(h2.ok("get v4")).isEqualTo("v4:h3:STOPPED");

        // Ownership: only the owner runs a VM; a stopped one moves.
        assertThat(h3.call("start v1")).startsWith("ERR start v1").contains("owned by host 'h1'");
        assertThat(h3.call("move v2 nowhere")).startsWith("ERR").contains("no host named 'nowhere'");
        assertThat(h3.ok("move v2 h3")).isEqualTo("v2:h3:STOPPED");
        assertThat(h1.call("start v2")).startsWith("ERR start v2").contains("owned by host 'h3'");
        assertThat(h3.ok("start v2")).isEqualTo("v2:h3:RUNNING");
        assertThat(h1.call("move v2 h1")).startsWith("ERR").contains("RUNNING");
        assertThat(h1.ok("start v1")).isEqualTo("v1:h1:RUNNING");
        assertThat(h2.ok("start v3")).isEqualTo("v3:h2:RUNNING");
        assertThat(h1.ok("get v3")).isEqualTo("v3:h2:RUNNING");
        List<Long> v1Before = scan.pidsOf("v1");
        assertThat(v1Before).hasSize(1);

        // SIGKILL: h1's QEMU of v1 dies by its watchdog; another host takes v1 over and restarts it.
        long killedAt = System.nanoTime();
        h1.jvm.kill();
        String v1 = awaitVm(h3, "v1", s -> s.endsWith(":RUNNING") && !s.contains(":h1:"), "v1 restarted elsewhere");
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
        assertThat(tookMillis).as("not before the lease (at most %s) expired plus the grace", TTL)
                .isGreaterThanOrEqualTo(GRACE.toMillis());
        assertThat(ProcessHandle.of(v1Before.get(0)).map(ProcessHandle::isAlive).orElse(false))
                .as("the killed host's QEMU of v1 was fenced").isFalse();
        assertThat(scan.pidsOf("v1")).hasSize(1).doesNotContain(v1Before.get(0));
        assertThat(h2.ok("get v2")).as("the other hosts' VMs stay").isEqualTo("v2:h3:RUNNING");

        // SIGSTOP past its lease: h2's QEMUs are fenced by its watchdog, its VMs taken over.
        String v1Owner = v1.split(":")[1];
        Host frozen = h2;
        Host taker = h3;
        List<Long> v3Before = scan.pidsOf("v3");
        assertThat(v3Before).hasSize(1);
        frozen.freeze();
        String v3 = awaitVm(taker, "v3", s -> s.endsWith(":RUNNING") && !s.contains(":h2:"), "v3 restarted by h3");
        assertThat(v3).isEqualTo("v3:h3:RUNNING");
        assertThat(ProcessHandle.of(v3Before.get(0)).map(p -> QemuProcesses.isAlive(p.pid())).orElse(false))
                .as("the frozen host's QEMU of v3 was fenced").isFalse();
        if (v1Owner.equals("h2")) {
            awaitVm(taker, "v1", s -> s.equals("v1:h3:RUNNING"), "v1 taken again, from the frozen h2");
        }
        frozen.resume();
        // Thawed, h2 finds its lease lost: it fenced itself and changes nothing of what h3 took.
        assertThat(frozen.ok("get v3")).isEqualTo("v3:h3:RUNNING");
        assertThat(frozen.call("stop v3")).startsWith("ERR").contains("owned by host 'h3'");
        assertThat(awaitVm(frozen, "v1", s -> s.equals("v1:h3:RUNNING"), "h2 sees v1 on h3")).isNotNull();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String created = frozen.call("create v5");
        while (!created.startsWith("OK")) {
            assertThat(created).as("refused only for want of a lease").containsAnyOf("lease", "fencing token");
            assertThat(System.nanoTime()).as("h2 taking a new lease").isLessThan(deadline);
            Thread.sleep(200);
            created = frozen.call("create v5");
        }
        assertThat(created).as("h2 under its new lease").isEqualTo("OK create v5 v5:h2:STOPPED");

        assertThat(scan.scans).as("the process scan ran throughout").isGreaterThan(100);
        assertThat(scan.doubles).as("moments when one VM ran twice").isEmpty();
        assertThat(scan.pidsSeen.get("v1")).as("v1 ran in one QEMU after another").hasSizeGreaterThanOrEqualTo(2);
        assertThat(scan.pidsSeen.get("v3")).hasSizeGreaterThanOrEqualTo(2);
    }

    /**
     * A host frozen (SIGSTOP) right after its QEMU forked, before {@code start} returned: the
     * driver's fault hook stops the JVM at that step, so the manager never learns the pid. Its
     * watchdog knows the VM's fencing mark from before the fork and kills that QEMU at the
     * fencing deadline, before the lease has expired plus the grace; only then does the other
     * host take the VM over and start it; at no moment do two QEMUs run for it.
     */
    @Test
    void aHostFrozenRightAfterItsQemuForkedIsFencedByItsWatchdogBeforeTheTakeover() throws Exception {
        Host frozen = new Host("f1", "frozen_fork", List.of("qemu-forked:v9"));
        hosts.add(frozen);
        Host taker = new Host("f2", "frozen_fork", List.of());
        hosts.add(taker);
        assertThat(frozen.ok("create v9 restart")).isEqualTo("v9:f1:STOPPED");

        frozen.jvm.writeLine("start v9"); // answered only once the JVM runs again
        frozen.frozen = true; // (a SIGCONT at the end either way)
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (QemuProcesses.state(frozen.jvm.pid()).orElse('?') != 'T' || scan.pidsOf("v9").isEmpty()) {
            assertThat(System.nanoTime()).as("f1 frozen at its hook with v9's QEMU running; f1's stderr: "
                    + frozen.stderr()).isLessThan(deadline);
            Thread.sleep(20);
        }
        List<Long> first = scan.pidsOf("v9");
        assertThat(first).as("v9's QEMU, forked by the frozen f1").hasSize(1);
        long firstPid = first.get(0);

        awaitVm(taker, "v9", s -> s.equals("v9:f2:RUNNING"), "v9 taken over and restarted by f2");
        String takeover = taker.events.stream().filter(e -> e.startsWith("EVENT v9 ") && e.contains("taken over"))
                .findFirst().orElseThrow(() -> new AssertionError("no takeover event of v9 on f2: " + taker.events));
        long takenAt = Long.parseLong(takeover.split(" ")[4]);
        assertThat(QemuProcesses.isAlive(firstPid)).as("the frozen host's QEMU of v9 was fenced").isFalse();
        assertThat(QemuProcesses.state(frozen.jvm.pid())).as("f1 was frozen all along").contains('T');
        assertThat(scan.goneAt.get(firstPid)).as("the frozen host's QEMU gone (first scan without it) before the"
                + " takeover at " + takenAt + ": " + takeover).isNotNull().isLessThanOrEqualTo(takenAt);
        List<Long> second = scan.pidsOf("v9");
        assertThat(second).hasSize(1).doesNotContain(firstPid);
        assertThat(scan.firstSeenAt.get(second.get(0))).isGreaterThan(scan.goneAt.get(firstPid) - 1);

        frozen.resume();
        String answer = frozen.answers.poll(90, TimeUnit.SECONDS);
        assertThat(answer).as("the frozen start's answer; stderr " + frozen.stderr()).startsWith("ERR start v9");
        assertThat(awaitVm(frozen, "v9", s -> s.equals("v9:f2:RUNNING"), "f1 sees v9 on f2")).isNotNull();
        assertThat(scan.pidsOf("v9")).isEqualTo(second);
        assertThat(scan.scans).as("the process scan ran throughout").isGreaterThan(50);
        assertThat(scan.doubles).as("moments when one VM ran twice").isEmpty();
    }
}
