package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.InvalidVmSpecException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;

/** A spec's labels map answers as a sorted, unmodifiable map of the same pairs does. */
class SortedLabelsTest {

    private static Map<String, String> sortedLabels(Map<String, String> given) {
        String[] pairs = new String[2 * given.size() + 2]; // longer than needed: the map copies what it keeps
        int count = 0;
        for (Map.Entry<String, String> e : given.entrySet()) {
            pairs[2 * count] = e.getKey();
            pairs[2 * count + 1] = e.getValue();
            count++;
        }
        return SortedLabels.of(pairs, count);
    }

    @Property(tries = 500)
    void answersAsATreeMapDoes(@ForAll @Size(max = 12) Map<@StringLength(max = 6) String, @StringLength(max = 4) String> given,
                               @ForAll @StringLength(max = 6) String probe) {
        TreeMap<String, String> expected = new TreeMap<>(given);
        Map<String, String> labels = sortedLabels(given);
        assertThat(labels).isEqualTo(expected).hasSameHashCodeAs(expected).hasToString(expected.toString());
        assertThat(new ArrayList<>(labels.keySet())).isEqualTo(new ArrayList<>(expected.keySet()));
        assertThat(new ArrayList<>(labels.values())).isEqualTo(new ArrayList<>(expected.values()));
        assertThat(labels.get(probe)).isEqualTo(expected.get(probe));
        assertThat(labels.containsKey(probe)).isEqualTo(expected.containsKey(probe));
        List<String> visited = new ArrayList<>();
        labels.forEach((k, v) -> visited.add(k + "=" + v));
        assertThat(visited).isEqualTo(expected.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
    }

    @Test
    void cannotBeChanged() {
        Map<String, String> labels = sortedLabels(Map.of("b", "2", "a", "1"));
        assertThatThrownBy(() -> labels.put("c", "3")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> labels.remove("a")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(labels::clear).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> labels.entrySet().iterator().next().setValue("x"))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> {
            var it = labels.keySet().iterator();
            it.next();
            it.remove();
        }).isInstanceOf(UnsupportedOperationException.class);
        assertThat(labels.get(42)).isNull();
    }

    @Test
    void aSpecKeepsValidLabelsOfThisKindAsTheyAre() {
        Map<String, String> labels = sortedLabels(Map.of("tier", "web", "env", "prod"));
        VmSpec spec = new VmSpec("a", null, 64, 1, Architecture.X86_64, null, null, labels, null);
        assertThat(spec.labels()).isSameAs(labels);
        VmSpec again = new VmSpec("b", null, 64, 1, Architecture.X86_64, spec.disks(), spec.nics(), spec.labels(), spec.boot());
        assertThat(again.labels()).isSameAs(labels);
    }

    @Test
    void aSpecStillChecksLabelsOfThisKind() {
        Map<String, String> labels = sortedLabels(new HashMap<>(Map.of("bad key!", "v", "ok", "tab\there", "fine", "x")));
        assertThatThrownBy(() -> new VmSpec("a", null, 64, 1, Architecture.X86_64, null, null, labels, null))
                .isInstanceOfSatisfying(InvalidVmSpecException.class, e -> assertThat(e.violations())
                        .extracting(Violation::field).containsExactly("labels[bad key!]", "labels[ok]"));
    }
}
