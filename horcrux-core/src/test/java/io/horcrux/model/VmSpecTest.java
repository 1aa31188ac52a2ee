package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.InvalidVmSpecException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VmSpecTest {

    private static VmSpec.Builder valid() {
        return VmSpec.builder().id("web-1").memoryMiB(256).cpus(1);
    }

    private static List<Violation> violationsOf(VmSpec.Builder builder) {
        try {
            builder.build();
        } catch (InvalidVmSpecException e) {
            return e.violations();
        }
        throw new AssertionError("expected an InvalidVmSpecException");
    }

    private static Violation onlyViolation(VmSpec.Builder builder) {
        List<Violation> violations = violationsOf(builder);
        assertThat(violations).hasSize(1);
        return violations.get(0);
    }

    @Test
    void theDocumentedExampleBuildsWithDefaults() {
        VmSpec spec = VmSpec.builder().id("web-1").name("Web 1").memoryMiB(256).cpus(1)
                .disk(DiskSpec.qcow2("root", 1L << 30)).label("env", "test").build();

        assertThat(spec.id()).isEqualTo("web-1");
        assertThat(spec.name()).isEqualTo("Web 1");
        assertThat(spec.architecture()).isEqualTo(Architecture.X86_64);
        assertThat(spec.disks()).containsExactly(new DiskSpec("root", DiskFormat.QCOW2, 1L << 30, false));
        assertThat(spec.nics()).isEmpty();
        assertThat(spec.labels()).containsExactly(Map.entry("env", "test"));
        assertThat(spec.boot()).isEqualTo(BootSpec.defaults());
    }

    @Test
    void idsReadBackFromElsewhereAreCheckedByTheSameRule() {
        assertThat(VmSpec.isValidId("web-1")).isTrue();
        assertThat(VmSpec.requireValidId("a".repeat(63))).isEqualTo("a".repeat(63));
        for (String bad : new String[] {null, "", "-a", "A", "a".repeat(64), "..", "a/b", "a\nb", ".lock"}) {
            assertThat(VmSpec.isValidId(bad)).as("isValidId(%s)", bad).isFalse();
            assertThatThrownBy(() -> VmSpec.requireValidId(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("id must match [a-z0-9][a-z0-9-]{0,62}")
                    .hasMessageNotContaining("\n");
        }
    }

    @Test
    void nameDefaultsToTheIdAndADisklessVmIsValid() {
        VmSpec spec = VmSpec.builder().id("a").build();
        assertThat(spec.name()).isEqualTo("a");
        assertThat(spec.disks()).isEmpty();
        assertThat(spec.memoryMiB()).isEqualTo(256);
    }

    @Test
    void everyViolationIsListedAtOnceWithFieldAndRule() {
        VmSpec.Builder b = VmSpec.builder().id("Bad Id").name("x\ny").memoryMiB(8).cpus(0)
                .disk(DiskSpec.qcow2("root", 0)).disk(DiskSpec.qcow2("root", 1L << 30))
                .nic(NicSpec.user("eth0").withMac("not-a-mac")).label("bad key!", "v").label("ok", "tab\there");

        assertThatThrownBy(b::build).isInstanceOf(InvalidVmSpecException.class)
                .hasMessageContaining("id: must match")
                .hasMessageContaining("memoryMiB: must be between 16");
        assertThat(violationsOf(b)).extracting(Violation::field).containsExactly(
                "id", "name", "memoryMiB", "cpus", "disks[0].sizeBytes", "disks[1].name", "nics[0].mac",
                "labels[bad key!]", "labels[ok]");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "-a", "A", "web_1", "web.1", "a/b", "..", "a,b", "a b", "a\nb", "a\u0000b",
            "$(rm -rf /)", "1234567890123456789012345678901234567890123456789012345678901234"})
    void idsOutsideThePatternAreRefused(String id) {
        Violation v = onlyViolation(valid().id(id));
        assertThat(v.field()).isEqualTo("id");
        assertThat(v.rule()).containsAnyOf("must match", "must not be blank");
    }

    @Test
    void nullIdIsBlank() {
        assertThat(onlyViolation(valid().id(null))).isEqualTo(new Violation("id", "must not be blank"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "0", "web-1", "a-", "123456789012345678901234567890123456789012345678901234567890123"})
    void idsInsideThePatternAreAccepted(String id) {
        assertThat(valid().id(id).build().id()).isEqualTo(id);
    }

    @Test
    void namesMayHoldPunctuationButNotControlCharactersOrExcess() {
        assertThat(valid().name("Web, 1 = \"prod\" $HOME; ../x").build().name()).isEqualTo("Web, 1 = \"prod\" $HOME; ../x");
        assertThat(onlyViolation(valid().name("a\u0000b")).field()).isEqualTo("name");
        assertThat(onlyViolation(valid().name("x".repeat(129))).rule()).contains("at most 128");
        assertThat(onlyViolation(valid().name(" ")).rule()).isEqualTo("must not be blank");
    }

    @Test
    void memoryBounds() {
        assertThat(valid().memoryMiB(16).build().memoryMiB()).isEqualTo(16);
        assertThat(valid().memoryMiB(VmSpec.MAX_MEMORY_MIB).build().memoryMiB()).isEqualTo(VmSpec.MAX_MEMORY_MIB);
        assertThat(onlyViolation(valid().memoryMiB(15)).field()).isEqualTo("memoryMiB");
        assertThat(onlyViolation(valid().memoryMiB(VmSpec.MAX_MEMORY_MIB + 1)).field()).isEqualTo("memoryMiB");
        assertThat(onlyViolation(valid().memoryMiB(-1)).rule()).contains("was -1");
    }

    @Test
    void cpuBounds() {
        assertThat(valid().cpus(VmSpec.MAX_CPUS).build().cpus()).isEqualTo(VmSpec.MAX_CPUS);
        assertThat(onlyViolation(valid().cpus(0)).field()).isEqualTo("cpus");
        assertThat(onlyViolation(valid().cpus(-3)).field()).isEqualTo("cpus");
        assertThat(onlyViolation(valid().cpus(VmSpec.MAX_CPUS + 1)).field()).isEqualTo("cpus");
    }

    @Test
    void architectureIsRequired() {
        assertThat(onlyViolation(valid().architecture(null))).isEqualTo(new Violation("architecture", "must not be null"));
    }

    @Test
    void diskSizesMustBePositiveAlignedAndBounded() {
        for (long size : new long[] {0, -1, 512, Long.MAX_VALUE, Long.MIN_VALUE, VmSpec.MAX_DISK_BYTES + 512}) {
            assertThat(onlyViolation(valid().disk(DiskSpec.qcow2("d", size))).field()).isEqualTo("disks[0].sizeBytes");
        }
        assertThat(onlyViolation(valid().disk(DiskSpec.raw("d", (1L << 20) + 1))).rule()).contains("multiple of 512");
        assertThat(valid().disk(DiskSpec.raw("d", VmSpec.MAX_DISK_BYTES)).build().disks()).hasSize(1);
    }

    @Test
    void diskNamesMustMatchAndBeUnique() {
        for (String name : new String[] {"", "Root", "a,b", "../etc", "a/b", "x".repeat(33), "-a"}) {
            assertThat(onlyViolation(valid().disk(DiskSpec.qcow2(name, 1L << 20))).field()).isEqualTo("disks[0].name");
        }
        assertThat(onlyViolation(valid().disk(DiskSpec.qcow2(null, 1L << 20))).rule()).contains("was 'null'");
        Violation dup = onlyViolation(valid().disk(DiskSpec.qcow2("a", 1L << 20)).disk(DiskSpec.raw("a", 1L << 20)));
        assertThat(dup).isEqualTo(new Violation("disks[1].name", "must be unique within the VM, 'a' is repeated"));
    }

    @Test
    void tooManyDisksOrNics() {
        VmSpec.Builder b = valid();
        IntStream.range(0, VmSpec.MAX_DISKS + 1).forEach(i -> b.disk(DiskSpec.qcow2("d" + i, 1L << 20)));
        assertThat(onlyViolation(b).field()).isEqualTo("disks");
        VmSpec.Builder n = valid();
        IntStream.range(0, VmSpec.MAX_NICS + 1).forEach(i -> n.nic(NicSpec.user("n" + i)));
        assertThat(onlyViolation(n).field()).isEqualTo("nics");
    }

    @Test
    void nullPartsAreViolationsNotCrashes() {
        assertThat(onlyViolation(valid().disk(null))).isEqualTo(new Violation("disks[0]", "must not be null"));
        assertThat(onlyViolation(valid().nic(null))).isEqualTo(new Violation("nics[0]", "must not be null"));
    }

    @Test
    void macsAreGeneratedUniqueLocalAndUnicastWhenAbsent() {
        VmSpec spec = valid().nic(NicSpec.user("a")).nic(NicSpec.user("b")).nic(NicSpec.user("c")).build();
        assertThat(spec.nics()).extracting(NicSpec::mac).doesNotHaveDuplicates()
                .allSatisfy(mac -> assertThat(mac).matches("52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}"));
    }

    @Test
    void givenMacsAreLowerCasedAndChecked() {
        assertThat(valid().nic(NicSpec.user("a").withMac("52:54:00:AB:CD:EF")).build().nics().get(0).mac())
                .isEqualTo("52:54:00:ab:cd:ef");
        for (String mac : new String[] {"52:54:00:ab:cd", "52-54-00-ab-cd-ef", "52:54:00:ab:cd:eg", "", "52:54:00:ab:cd:ef:00"}) {
            assertThat(onlyViolation(valid().nic(NicSpec.user("a").withMac(mac))).field()).isEqualTo("nics[0].mac");
        }
        assertThat(onlyViolation(valid().nic(NicSpec.user("a").withMac("01:00:5e:00:00:01"))).rule()).contains("unicast");
        Violation dup = onlyViolation(valid().nic(NicSpec.user("a").withMac("52:54:00:00:00:01"))
                .nic(NicSpec.user("b").withMac("52:54:00:00:00:01")));
        assertThat(dup.field()).isEqualTo("nics[1].mac");
        Violation dupName = onlyViolation(valid().nic(NicSpec.user("a")).nic(NicSpec.user("a")));
        assertThat(dupName.field()).isEqualTo("nics[1].name");
    }

    @Test
    void aSpecMadeFromAnothersPartsKeepsThem() {
        VmSpec spec = valid().disk(DiskSpec.qcow2("root", 1L << 30)).nic(NicSpec.user("eth0")).nic(NicSpec.user("eth1"))
                .label("a", "1").label("b", "2").build();
        VmSpec again = new VmSpec("web-2", spec.name(), spec.memoryMiB(), spec.cpus(), spec.architecture(), spec.disks(),
                spec.nics(), spec.labels(), spec.boot(), spec.cloudInit());
        assertThat(again.disks()).isSameAs(spec.disks());
        assertThat(again.nics()).isSameAs(spec.nics());
        assertThat(again.labels()).isSameAs(spec.labels());
        assertThat(again.boot()).isSameAs(spec.boot());
    }

    @Test
    void nicsAreNormalisedInOrderAroundNullsAndUpperCaseMacs() {
        NicSpec plain = NicSpec.user("a").withMac("52:54:00:00:00:0a");
        NicSpec upper = NicSpec.user("b").withMac("52:54:00:00:00:0B");
        NicSpec last = NicSpec.user("c").withMac("52:54:00:00:00:0c");
        VmSpec spec = new VmSpec("web-1", null, 64, 1, Architecture.X86_64, null, List.of(plain, upper, last), null, null);
        assertThat(spec.nics()).extracting(NicSpec::mac)
                .containsExactly("52:54:00:00:00:0a", "52:54:00:00:00:0b", "52:54:00:00:00:0c");
        assertThat(spec.nics().get(0)).isSameAs(plain);
        assertThat(spec.nics().get(2)).isSameAs(last);

        // A MAC repeated after one was lower-cased, and after a null: found either way.
        List<NicSpec> withNull = new java.util.ArrayList<>(List.of(upper));
        withNull.add(null);
        withNull.add(NicSpec.user("d").withMac("52:54:00:00:00:0b"));
        List<Violation> violations = violationsOf(valid().nic(upper).nic(NicSpec.user("d").withMac("52:54:00:00:00:0b")));
        assertThat(violations).extracting(Violation::field).containsExactly("nics[1].mac");
        assertThatThrownBy(() -> new VmSpec("web-1", null, 64, 1, Architecture.X86_64, null, withNull, null, null))
                .isInstanceOfSatisfying(InvalidVmSpecException.class, e -> assertThat(e.violations())
                        .extracting(Violation::field).containsExactly("nics[1]", "nics[2].mac"));
    }

    @Test
    void labelRules() {
        assertThat(valid().label("app.kubernetes.io/name", "web server, v2").build().labels())
                .containsEntry("app.kubernetes.io/name", "web server, v2");
        assertThat(onlyViolation(valid().label("", "v")).field()).isEqualTo("labels[]");
        assertThat(onlyViolation(valid().label("a b", "v")).field()).isEqualTo("labels[a b]");
        assertThat(onlyViolation(valid().label("k", "x".repeat(256))).rule()).contains("at most 255");
        assertThat(onlyViolation(valid().label("k", "a\u0007")).rule()).contains("control characters");
        assertThat(onlyViolation(valid().label("k", null)).rule()).contains("null");
        assertThat(onlyViolation(valid().label(null, "v")).field()).isEqualTo("labels[null]");
        VmSpec.Builder many = valid();
        IntStream.range(0, VmSpec.MAX_LABELS + 1).forEach(i -> many.label("k" + i, "v"));
        assertThat(onlyViolation(many).field()).isEqualTo("labels");
    }

    @Test
    void labelsAreSortedAndImmutable() {
        VmSpec spec = valid().label("b", "2").label("a", "1").build();
        assertThat(spec.labels().keySet()).containsExactly("a", "b");
        assertThatThrownBy(() -> spec.labels().put("c", "3")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> spec.disks().add(DiskSpec.qcow2("x", 1L << 20))).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void theSpecDoesNotShareTheCallersCollections() {
        Map<String, String> labels = new HashMap<>(Map.of("a", "1"));
        VmSpec spec = new VmSpec("a", null, 64, 1, Architecture.X86_64, null, null, labels, null);
        labels.put("b", "2");
        assertThat(spec.labels()).containsOnlyKeys("a");
    }

    @Test
    void bootPathsMustBeAbsoluteAndNormalised() {
        assertThat(valid().boot(BootSpec.kernel("/boot/vmlinuz", "/boot/initrd", "console=ttyS0,115200")).build().boot().kernel())
                .isEqualTo("/boot/vmlinuz");
        for (String path : new String[] {"vmlinuz", "/boot/../etc/shadow", "/boot/./x", "//boot", "/boot/x\n", ""}) {
            assertThat(onlyViolation(valid().boot(BootSpec.kernel(path, null, null))).field()).isEqualTo("boot.kernel");
        }
        assertThat(onlyViolation(valid().boot(new BootSpec(List.of(BootDevice.DISK), null, "/boot/initrd", null))))
                .isEqualTo(new Violation("boot.initrd", "needs boot.kernel"));
        assertThat(onlyViolation(valid().boot(new BootSpec(List.of(BootDevice.DISK), null, null, "quiet"))))
                .isEqualTo(new Violation("boot.cmdline", "needs boot.kernel"));
        assertThat(onlyViolation(valid().boot(new BootSpec(List.of(), null, null, null))).field()).isEqualTo("boot.order");
        assertThat(onlyViolation(valid().boot(BootSpec.kernel("/k", null, "a\u0000b"))).field()).isEqualTo("boot.cmdline");
    }

    @Test
    void toBuilderDerivesAnEqualSpec() {
        VmSpec spec = valid().nic(NicSpec.user("eth0")).disk(DiskSpec.qcow2("root", 1L << 30)).label("a", "b")
                .boot(BootSpec.devices(BootDevice.NETWORK, BootDevice.DISK)).build();
        assertThat(spec.toBuilder().build()).isEqualTo(spec);
        assertThat(spec.toBuilder().cpus(4).build().cpus()).isEqualTo(4);
    }

    @Test
    void badValuesAreShownSafelyInMessages() {
        Violation v = onlyViolation(valid().disk(DiskSpec.qcow2("a\u0000" + "b".repeat(200), 1L << 20)));
        assertThat(v.rule()).contains("\\u0000").endsWith("...'").doesNotContain("\u0000");
        assertThat(Arrays.asList(v.rule().split(""))).hasSizeLessThan(200);
    }
}
