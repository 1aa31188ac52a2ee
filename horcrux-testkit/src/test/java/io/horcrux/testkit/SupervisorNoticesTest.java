package io.horcrux.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.VmEvent;
import io.horcrux.model.VmSpec;
import io.horcrux.model.VmStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The manager's handling of the driver's notices (VM deaths noticed behind its back): a small
 * fixed set of threads serves every VM, and a VM whose lock a long stop sequence holds delays
 * only its own notices. The deaths are the simulated driver's {@link SimulatedDriver#crash},
 * the long stops its guest that ignores the shutdown request until the grace runs out.
 */
class SupervisorNoticesTest {
    /** Well above the manager's notice threads, so that a pool that waits for locks would run dry. */
    private static final int SLOW = 6;
    /** The bound on the manager's notice threads this test holds it to. */
    private static final int MAX_NOTICE_THREADS = 4;

    private static VmSpec spec(String id) {
        return VmSpec.builder().id(id).name("VM " + id).memoryMiB(64).disk(DiskSpec.qcow2("root", 1L << 30)).build();
    }

    @Test
    void aVmInALongStopDelaysNoOtherVmsNoticeAndABurstOfDeathsStaysOnAFewThreads() throws Exception {
        SimulatedDriver driver = SimulatedDriver.builder().guestShutdownTime(null).build(); // guests ignore a stop request
        int before = noticeThreads();
        try (VmManager manager = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).build()) {
            List<VmSpec> specs = new ArrayList<>();
            for (int i = 0; i < SLOW; i++) {
                specs.add(spec("slow-" + i));
            }
            for (int i = 0; i < 200; i++) {
                specs.add(spec(String.format("vm-%03d", i)));
            }
            manager.createAll(specs);
            assertThat(manager.startAll(specs.stream().map(VmSpec::id).toList()).allSucceeded()).isTrue();
            Set<String> crashed = ConcurrentHashMap.newKeySet();
            manager.subscribe(event -> {
                if (event.kind() == VmEvent.Kind.STATUS_CHANGED && event.newStatus() == VmStatus.CRASHED) {
                    crashed.add(event.vmId());
                }
            });

            // Slow VMs: a stop whose guest ignores the request holds the VM's lock for a minute.
            List<Thread> stops = new ArrayList<>();
            for (int i = 0; i < SLOW; i++) {
                String id = "slow-" + i;
                Thread t = new Thread(() -> {
                    try {
                        manager.stop(id, Duration.ofSeconds(60));
                    } catch (RuntimeException interrupted) {
                        // cut short at the end of the test
                    }
                }, "stop-" + id);
                t.start();
                stops.add(t);
            }
            for (int i = 0; i < SLOW; i++) {
                String id = "slow-" + i;
                VmManagerContract.await(id + " stopping", () -> manager.get(id).status() == VmStatus.STOPPING);
                driver.crash(id, "killed while stopping"); // its notice must wait for the stop's lock
            }

            AtomicInteger most = new AtomicInteger();
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                while (sampling.get()) {
                    most.accumulateAndGet(noticeThreads() - before, Math::max);
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            sampler.start();
            try {
                driver.crash("vm-000", "killed");
                VmManagerContract.await("vm-000's crash recorded while " + SLOW + " VMs are in long stops",
                        () -> crashed.contains("vm-000"));
                for (int i = 1; i < 200; i++) {
                    driver.crash(String.format("vm-%03d", i), "killed in a burst");
                }
                VmManagerContract.await("all 200 crashes recorded", () -> crashed.size() == 200);
            } finally {
                sampling.set(false);
                sampler.join(60_000);
            }
            assertThat(most.get()).as("notice threads beyond those before the manager").isBetween(1, MAX_NOTICE_THREADS);
            for (int i = 0; i < 200; i++) {
                assertThat(manager.get(String.format("vm-%03d", i)).status()).isEqualTo(VmStatus.CRASHED);
            }
            for (int i = 0; i < SLOW; i++) {
                assertThat(manager.get("slow-" + i).status()).isEqualTo(VmStatus.STOPPING);
            }

            // The long stops end: each slow VM's queued notice is handled once its lock is free.
            stops.forEach(Thread::interrupt);
            for (Thread t : stops) {
                t.join(60_000);
            }
            for (int i = 0; i < SLOW; i++) {
                String id = "slow-" + i;
                VmManagerContract.await(id + " no longer active after its stop ended",
                        () -> !manager.get(id).status().isActive());
            }
        }
    }

    @Test
    void aGuestResettingInALoopDoesNotStarveAnotherVmsNotice() throws Exception {
        SimulatedDriver driver = SimulatedDriver.create();
        try (VmManager manager = VmManager.builder().store(InMemoryVmStore.create()).driver(driver).build()) {
            manager.createAll(List.of(spec("looping"), spec("quiet")));
            manager.startAll(List.of("looping", "quiet"));
            AtomicInteger resets = new AtomicInteger();
            Set<String> crashed = ConcurrentHashMap.newKeySet();
            manager.subscribe(event -> {
                if (event.vmId().equals("looping") && event.newStatus() == VmStatus.RUNNING
                        && event.previousStatus() == VmStatus.RUNNING) {
                    resets.incrementAndGet();
                }
                if (event.newStatus() == VmStatus.CRASHED) {
                    crashed.add(event.vmId());
                }
            });
            for (int i = 0; i < 20_000; i++) {
                driver.guestReboot("looping");
            }
            driver.crash("quiet", "killed");
            VmManagerContract.await("quiet's crash recorded beside a flood of resets", () -> crashed.contains("quiet"));
            VmManagerContract.await("the resets told", () -> resets.get() > 0);
            assertThat(manager.get("looping").status()).isEqualTo(VmStatus.RUNNING);
        }
    }

    private static int noticeThreads() {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("horcrux-supervisor-") && t.isAlive()) {
                n++;
            }
        }
        return n;
    }
}
