package io.horcrux.store;

import io.horcrux.StoreException;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The other process of the store's multi-process tests, started by {@link ChildJvm}. Speaks
 * line by line on stdout:
 * <ul>
 *   <li>{@code hold <db>}: opens the store, inserts VM {@code held}, prints {@code READY}, keeps
 *       the store open until stdin closes.</li>
 *   <li>{@code try-open <db>}: prints {@code OPENED} or {@code REFUSED <message>}.</li>
 *   <li>{@code write <db> <NORMAL|FULL> <first batch>}: inserts batches of {@link #BATCH} VMs
 *       labelled {@code batch=<n>} forever, printing {@code BEGIN n} before and {@code ACK n}
 *       after each returned insert.</li>
 *   <li>{@code stream <db>}: streams every VM, printing {@code STREAMED <count> ACTIVE <connections>}.</li>
 *   <li>{@code collect <db>}: loads every VM into a list, printing {@code COLLECTED <count>}.</li>
 * </ul>
 */
public final class StoreChild {
    static final int BATCH = 100;

    private StoreChild() {
    }

    public static void main(String[] args) throws IOException {
        PrintStream out = System.out;
        Path db = Path.of(args[1]);
        switch (args[0]) {
            case "hold" -> {
                try (SqliteVmStore store = SqliteVmStore.open(db)) {
                    store.insert(SampleVms.vm("held"));
                    out.println("READY");
                    out.flush();
                    while (System.in.read() != -1) {
                        // wait for the parent to close our stdin
                    }
                }
            }
            case "try-open" -> {
                try (SqliteVmStore store = SqliteVmStore.open(db)) {
                    out.println("OPENED");
                } catch (StoreException e) {
                    out.println("REFUSED " + e.getMessage());
                }
            }
            case "write" -> {
                SqliteVmStore.Synchronous sync = SqliteVmStore.Synchronous.valueOf(args[2]);
                long batch = Long.parseLong(args[3]);
                try (SqliteVmStore store = SqliteVmStore.builder().file(db).synchronous(sync).build()) {
                    while (true) {
                        List<Vm> vms = new ArrayList<>(BATCH);
                        for (int i = 0; i < BATCH; i++) {
                            vms.add(SampleVms.vm(String.format("b%06d-%03d", batch, i),
                                    Map.of("batch", Long.toString(batch))));
                        }
                        out.println("BEGIN " + batch);
                        out.flush();
                        store.insertAll(vms);
                        out.println("ACK " + batch);
                        out.flush();
                        batch++;
                    }
                }
            }
            case "stream" -> {
                try (SqliteVmStore store = SqliteVmStore.builder().file(db)
                        .leakDetectionThreshold(Duration.ofSeconds(60)).build()) {
                    long count;
                    try (Stream<Vm> vms = store.stream(VmQuery.all())) {
                        count = vms.filter(vm -> vm.spec().memoryMiB() > 0).count();
                    }
                    out.println("STREAMED " + count + " ACTIVE " + store.activeReaderConnections());
                }
            }
            case "collect" -> {
                try (SqliteVmStore store = SqliteVmStore.open(db); Stream<Vm> vms = store.stream(VmQuery.all())) {
                    List<Vm> all = vms.toList();
                    out.println("COLLECTED " + all.size());
                }
            }
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        out.flush();
    }
}
