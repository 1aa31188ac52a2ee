package io.horcrux.bench;

import io.horcrux.VmManager;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmStore;
import io.horcrux.testkit.SimulatedDriver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** What the benchmarks share: the stores they compare and the VMs they fill them with. */
final class Fixtures {
    private Fixtures() {
    }

    /** A realistic VM: a disk, a NIC, three labels. */
    static VmSpec spec(int i) {
        return VmSpec.builder()
                .id(String.format("vm-%06d", i))
                .name("Benchmark VM " + i)
                .memoryMiB(512).cpus(2)
                .disk(DiskSpec.qcow2("root", 8L << 30))
                .nic(NicSpec.user("eth0").withMac(String.format("52:54:00:%02x:%02x:%02x", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)))
                .label("env", i % 2 == 0 ? "prod" : "test")
                .label("team", "team-" + (i % 10))
                .label("tier", "web")
                .build();
    }

    static List<VmSpec> specs(int count) {
        List<VmSpec> specs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            specs.add(spec(i));
        }
        return specs;
    }

    /** A manager over the simulated driver, filled with {@code count} VMs in batches. */
    static VmManager manager(StoreKind kind, Path directory, int count, boolean cache) {
        VmManager manager = VmManager.builder()
                .store(kind.open(directory))
                .driver(SimulatedDriver.create())
                .cacheMaximumSize(cache ? 100_000 : 0)
                .build();
        List<VmSpec> all = specs(count);
        for (int from = 0; from < count; from += 5_000) {
            manager.createAll(all.subList(from, Math.min(count, from + 5_000)));
        }
        return manager;
    }

    static Path tempDirectory() {
        return tempDirectory("horcrux-bench-");
    }

    static Path tempDirectory(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs a tool (qemu-img by hand, say) with its output discarded; fails unless it exits 0. */
    static void run(java.util.List<String> args) {
        try {
            Process p = new ProcessBuilder(args).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (p.waitFor() != 0) {
                throw new IllegalStateException(args + " failed: exit " + p.exitValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static void deleteRecursively(Path directory) {
        if (directory == null || !Files.exists(directory)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(directory)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
