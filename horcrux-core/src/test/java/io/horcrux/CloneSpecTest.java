package io.horcrux;

import static org.assertj.core.api.Assertions.assertThat;

import io.horcrux.model.CloudInit;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.VmSpec;
import org.junit.jupiter.api.Test;

/** What a clone's spec takes from its source's, and what it gets anew. */
class CloneSpecTest {
    @Test
    void aYamlInstanceIdIsReplacedAndTheRestKept() {
        String meta = "# seed\ninstance-id: golden-7\nlocal-hostname: golden\n";
        assertThat(CloneOperations.withInstanceId(meta, "web-1"))
                .isEqualTo("# seed\ninstance-id: web-1\nlocal-hostname: golden\n");
    }

    @Test
    void aJsonInstanceIdIsReplacedAndTheRestKept() {
        String meta = "{\"local-hostname\": \"golden\", \"instance-id\" : \"gold\\\"en\"}";
        assertThat(CloneOperations.withInstanceId(meta, "web-1"))
                .isEqualTo("{\"local-hostname\": \"golden\", \"instance-id\": \"web-1\"}");
    }

    @Test
    void theCloneHasItsIdNameAndNewMacsAndTheSourcesEverythingElse() {
        VmSpec source = VmSpec.builder().id("golden").name("Golden").memoryMiB(512).cpus(2)
                .disk(DiskSpec.qcow2("root", 1L << 30)).nic(NicSpec.user("eth0").withMac("52:54:00:12:34:56"))
                .nic(NicSpec.tap("eth1", "tap-golden")).label("tier", "web")
                .cloudInit(CloudInit.userData("#cloud-config\n")).build();
        VmSpec clone = CloneOperations.cloneSpec(source, "web-1", null);
        assertThat(clone.id()).isEqualTo("web-1");
        assertThat(clone.name()).isEqualTo("web-1");
        assertThat(CloneOperations.cloneSpec(source, "web-2", "Web 2").name()).isEqualTo("Web 2");
        assertThat(clone.memoryMiB()).isEqualTo(512);
        assertThat(clone.cpus()).isEqualTo(2);
        assertThat(clone.disks()).isEqualTo(source.disks());
        assertThat(clone.labels()).isEqualTo(source.labels());
        assertThat(clone.boot()).isEqualTo(source.boot());
        assertThat(clone.nics()).extracting(NicSpec::name, NicSpec::mode, NicSpec::tapDevice)
                .containsExactly(org.assertj.core.api.Assertions.tuple("eth0", source.nics().get(0).mode(), null),
                        org.assertj.core.api.Assertions.tuple("eth1", source.nics().get(1).mode(), "tap-golden"));
        assertThat(clone.nics().get(0).mac()).isNotEqualTo("52:54:00:12:34:56").startsWith("52:54:00:");
        assertThat(clone.nics().get(1).mac()).isNotEqualTo(source.nics().get(1).mac());
        assertThat(clone.cloudInit()).as("the default meta-data names the clone's id").isEqualTo(source.cloudInit());
        assertThat(clone.cloudInit().metaDataFor(clone.id())).contains("instance-id: web-1");
    }
}
