package io.horcrux.bench;

import com.fasterxml.jackson.core.JsonGenerator;
import io.horcrux.VmManager;
import io.horcrux.internal.VmJson;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Seed row "JSON Serialization (100 VMs)": N VMs already in memory written as JSON, and the
 * streaming export of an inventory of N VMs from the store; each with its floor in the same
 * run. The floor of {@code serialize} is the same document written through Jackson's generator
 * a call per field ({@link VmJson#writeVmWithJackson}, what a careful hand-written Jackson
 * user writes); the floor of {@code streamingExport} is the stream it reads, visited without
 * writing anything ({@code streamVisit}). {@code serialize} writes VMs it wrote before, so each
 * spec's text is copied ({@code EncodedSpecs}), as in an export or a listing served again;
 * {@code serializeFreshSpecs} writes the same VMs with spec objects never written before.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class JsonBenchmark {
    @Param({"IN_MEMORY", "SQLITE"})
    public StoreKind store;

    @Param({"10", "100", "1000"})
    public int size;

    private Path directory;
    private VmManager manager;
    private List<Vm> vms;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(1 << 20);

    @Setup(Level.Trial)
    public void setUp() {
        directory = Fixtures.tempDirectory();
        manager = Fixtures.manager(store, directory, size, true);
        vms = manager.withStream(VmQuery.all(), s -> s.toList());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
        Fixtures.deleteRecursively(directory);
    }

    @Benchmark
    public int serialize() throws IOException {
        buffer.reset();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator((OutputStream) buffer)) {
            gen.writeStartArray();
            for (Vm vm : vms) {
                VmJson.writeVm(gen, vm);
            }
            gen.writeEndArray();
        }
        return buffer.size();
    }

    /**
     * Fresh spec objects for every call of {@link #serializeFreshSpecs} (made outside the
     * measured time): copies equal to the VMs' own, so no spec's text is known beforehand.
     */
    @State(Scope.Thread)
    public static class FreshSpecs {
        List<Vm> vms;

        @Setup(Level.Invocation)
        public void copy(JsonBenchmark bench) {
            vms = bench.vms.stream().map(vm -> new Vm(vm.spec().toBuilder().build(), vm.status(), vm.version(),
                    vm.createdAt(), vm.updatedAt(), vm.statusReason(), vm.runtime(), vm.owner())).toList();
        }
    }

    /**
     * {@link #serialize} of VMs whose specs were never written before: each spec's text is
     * written field by field, as the first write of a VM (or one after its spec changed) is.
     */
    @Benchmark
    public int serializeFreshSpecs(FreshSpecs fresh) throws IOException {
        buffer.reset();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator((OutputStream) buffer)) {
            gen.writeStartArray();
            for (Vm vm : fresh.vms) {
                VmJson.writeVm(gen, vm);
            }
            gen.writeEndArray();
        }
        return buffer.size();
    }

    @Benchmark
    public int serializeWithGenerator() throws IOException {
        buffer.reset();
        try (JsonGenerator gen = VmJson.FACTORY.createGenerator((OutputStream) buffer)) {
            gen.writeStartArray();
            for (Vm vm : vms) {
                VmJson.writeVmWithJackson(gen, vm);
            }
            gen.writeEndArray();
        }
        return buffer.size();
    }

    @Benchmark
    public void streamVisit(Blackhole bh) {
        manager.withStream(VmQuery.all(), s -> {
            s.forEach(bh::consume);
            return null;
        });
    }

    @Benchmark
    public long streamingExport() {
        buffer.reset();
        return manager.exportJson(buffer);
    }
}
