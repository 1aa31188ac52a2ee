package io.horcrux.bench;

import java.util.Locale;
import java.util.Optional;

/** The report's section on snapshots, from {@code snapshots.json} ({@link SnapshotBenchmark}). */
final class SnapshotFigures {
    private SnapshotFigures() {
    }

    static void render(StringBuilder md, Results results) {
        Optional<Results.Score> ours = results.get("SnapshotBenchmark.snapshotWithMemory");
        Optional<Results.Score> raw = results.get("SnapshotBenchmark.rawSnapshotSave");
        if (ours.isEmpty() || raw.isEmpty()) {
            return;
        }
        double oursMs = ours.get().medianNanos() / 1e6;
        double rawMs = raw.get().medianNanos() / 1e6;
        double ratio = oursMs / rawMs;
        md.append("\n## Snapshots\n\n");
        md.append("A snapshot with memory of the running test guest (" + SnapshotBenchmark.MEMORY_MIB + " MiB, q35, a "
                + "qcow2 disk), through Horcrux and by hand in one run (`SnapshotBenchmark`): `VmManager.snapshot` on "
                + "SQLite (journal entry, the `snapshot-save` job, the tree's row, the event) against the raw QMP "
                + "`snapshot-save` job on an identical QEMU, polled with `query-jobs` over a bare socket.\n\n");
        md.append("| what | Horcrux | raw QEMU | measured | goal | met |\n|---|---:|---:|---:|---:|---|\n");
        md.append(String.format(Locale.ROOT, "| snapshot with memory | %.1f ms ± %.1f | %.1f ms ± %.1f | %.3fx | within 10 %% | %s |%n",
                oursMs, ours.get().errorNanos() / 1e6, rawMs, raw.get().errorNanos() / 1e6, ratio,
                ratio <= 1.10 ? "yes" : "**no**"));
    }
}
