package io.horcrux.qemu;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads what QEMU printed when it failed: its error lines first, without the binary's name in
 * front and without the warnings that precede them (a named CPU model under KVM warns about
 * every feature the host lacks), so that an error message carries QEMU's own words and not a
 * screen of noise or an assertion dump alone.
 */
final class QemuOutput {
    private QemuOutput() {
    }

    /**
     * Up to {@code maxLines} of QEMU's error lines, joined by {@code "; "}: the lines that are
     * neither warnings nor a failed assertion (the internal check behind an error QEMU already
     * stated), or those when there is nothing else; empty for empty output.
     */
    static String firstErrors(String output, int maxLines) {
        List<String> errors = new ArrayList<>();
        List<String> assertions = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        for (String raw : output.split("\\R")) {
            String line = withoutProgramName(raw.strip());
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("warning:")) {
                warnings.add(line);
            } else if (line.contains("Assertion `")) {
                assertions.add(line);
            } else {
                errors.add(line.startsWith("error: ") ? line.substring("error: ".length()) : line);
            }
        }
        List<String> chosen = !errors.isEmpty() ? errors : !assertions.isEmpty() ? assertions : warnings;
        return String.join("; ", chosen.subList(0, Math.min(maxLines, chosen.size())));
    }

    /** {@code "qemu-system-x86_64: error: ..."} becomes {@code "error: ..."}. */
    private static String withoutProgramName(String line) {
        int colon = line.indexOf(": ");
        if (colon > 0 && line.substring(0, colon).contains("qemu")) {
            return line.substring(colon + 2).strip();
        }
        return line;
    }
}
