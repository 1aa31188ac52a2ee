package io.horcrux.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.InvalidVmSpecException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The rules of port forwards, tap NICs and cloud-init seeds: each violation named by field and rule, all at once. */
class NetworkAndCloudInitSpecTest {

    private static VmSpec.Builder valid() {
        return VmSpec.builder().id("web-1");
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
    void forwardsDefaultToLoopbackAndKeepTheirOrder() {
        VmSpec spec = valid().nic(NicSpec.user("eth0").forward(PortForward.tcp(2222, 22))
                .forward(PortForward.udp(0, 53), PortForward.tcp(8080, 80).onHostAddress("0.0.0.0"))).build();
        assertThat(spec.nics().get(0).mode()).isEqualTo(NicMode.USER);
        assertThat(spec.nics().get(0).forwards()).containsExactly(
                new PortForward(PortForward.Protocol.TCP, "127.0.0.1", 2222, 22),
                new PortForward(PortForward.Protocol.UDP, "127.0.0.1", 0, 53),
                new PortForward(PortForward.Protocol.TCP, "0.0.0.0", 8080, 80));
        assertThat(spec.nics().get(0).mac()).as("a MAC is still generated").isNotNull();
        assertThat(PortForward.tcp(2222, 22)).hasToString("tcp 127.0.0.1:2222 -> 22");
    }

    @Test
    void everyBadForwardAndTapSettingIsListedWithItsFieldAndRule() {
        List<Violation> violations = violationsOf(valid()
                .nic(NicSpec.user("eth0").forward(PortForward.tcp(70000, 22), PortForward.tcp(-1, 0),
                        PortForward.udp(53, 65536), PortForward.tcp(22, 22).onHostAddress("localhost"),
                        PortForward.tcp(2222, 22), PortForward.tcp(2222, 23)))
                .nic(NicSpec.tap("eth1", "tap0").forward(PortForward.tcp(8080, 80)))
                .nic(NicSpec.tap("eth2", "way-too-long-name0"))
                .nic(NicSpec.tap("eth3", "bad/name"))
                .nic(NicSpec.tap("eth4", "tap0")));
        assertThat(violations).extracting(Violation::field).containsExactly(
                "nics[0].forwards[0].hostPort",
                "nics[0].forwards[1].hostPort", "nics[0].forwards[1].guestPort",
                "nics[0].forwards[2].guestPort",
                "nics[0].forwards[3].hostAddress",
                "nics[0].forwards[5]",
                "nics[1].forwards",
                "nics[2].tapDevice",
                "nics[3].tapDevice",
                "nics[4].tapDevice");
        assertThat(violations.get(0).rule()).contains("0 (a free port chosen at start) to 65535").contains("70000");
        assertThat(violations.get(3).rule()).contains("1 to 65535").contains("65536");
        assertThat(violations.get(4).rule()).contains("dotted IPv4").contains("localhost");
        assertThat(violations.get(5).rule()).contains("unique").contains("127.0.0.1:2222").contains("nics[0].forwards[4]");
        assertThat(violations.get(6).rule()).contains("a tap NIC takes no port forwards");
        assertThat(violations.get(7).rule()).contains("1 to 15 characters");
        assertThat(violations.get(9).rule()).contains("unique").contains("nics[1]");
    }

    @Test
    void forwardsOnTheSameFixedHostPortClashAcrossNicsButProtocolsAndAddressesKeepThemApart() {
        Violation clash = onlyViolation(valid().nic(NicSpec.user("eth0").forward(PortForward.tcp(2222, 22)))
                .nic(NicSpec.user("eth1").forward(PortForward.tcp(2222, 23))));
        assertThat(clash.field()).isEqualTo("nics[1].forwards[0]");
        VmSpec apart = valid().nic(NicSpec.user("eth0").forward(PortForward.tcp(2222, 22), PortForward.udp(2222, 22),
                PortForward.tcp(2222, 22).onHostAddress("10.0.0.1"), PortForward.tcp(0, 22), PortForward.tcp(0, 23))).build();
        assertThat(apart.nics().get(0).forwards()).hasSize(5);
        assertThat(onlyViolation(valid().nic(NicSpec.user("eth0").forward(PortForward.tcp(0, 22), PortForward.tcp(0, 22))))
                .rule()).contains("repeats");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tap0", "br-tap.1", "a", "tap_web+1", "fifteen-chars-x"})
    void linuxInterfaceNamesAreTapDevices(String name) {
        assertThat(valid().nic(NicSpec.tap("eth0", name)).build().nics().get(0).tapDevice()).isEqualTo(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", ".", "..", "sixteen-chars-xx", "a b", "a:b", "a,b", "tap\n0", "t\u00e4p"})
    void otherNamesAreNot(String name) {
        assertThat(onlyViolation(valid().nic(NicSpec.tap("eth0", name))).field()).isEqualTo("nics[0].tapDevice");
    }

    @Test
    void aUserNicWithATapDeviceIsRefused() {
        Violation v = onlyViolation(valid().nic(new NicSpec("eth0", null, NicMode.USER, "tap0", null)));
        assertThat(v.field()).isEqualTo("nics[0].tapDevice");
    }

    @Test
    void cloudInitDefaultsItsMetaDataToTheVmIdAndSurvivesToBuilder() {
        VmSpec spec = valid().cloudInit(CloudInit.userData("#cloud-config\n")).build();
        assertThat(spec.cloudInit().metaData()).isNull();
        assertThat(spec.cloudInit().metaDataFor(spec.id())).isEqualTo("instance-id: web-1\nlocal-hostname: web-1\n");
        assertThat(spec.toBuilder().build()).isEqualTo(spec);
        assertThat(valid().build().cloudInit()).isNull();
    }

    @Test
    void goodMetaDataAndNetworkConfigInYamlOrJsonAreAccepted() {
        for (String meta : List.of("instance-id: i-1\n", "---\n# a comment\ninstance-id: 'i-2'\nlocal-hostname: h\n",
                "instance-id: i-3\npublic-keys:\n  - ssh-ed25519 AAAA\n", "{\"instance-id\": \"i-4\", \"x\": [1, {}]}")) {
            valid().cloudInit(CloudInit.userData("u").withMetaData(meta)).build();
        }
        for (String network : List.of("version: 2\nethernets:\n  eth0:\n    dhcp4: true\n",
                "network:\n  version: 1\n  config:\n    - type: physical\n", "{\"version\": 2}",
                "{\"network\": {\"version\": 1, \"config\": []}}")) {
            valid().cloudInit(CloudInit.userData("u").withNetworkConfig(network)).build();
        }
    }

    @Test
    void everyBadCloudInitPartIsListedWithItsFieldAndRule() {
        String big = "x".repeat(CloudInit.MAX_USER_DATA_BYTES + 1);
        List<Violation> violations = violationsOf(valid().cloudInit(
                new CloudInit(big, "local-hostname: h\n", "ethernets:\n  eth0: {}\n")));
        assertThat(violations).extracting(Violation::field)
                .containsExactly("cloudInit.userData", "cloudInit.metaData", "cloudInit.networkConfig");
        assertThat(violations.get(0).rule()).contains("at most 65536 bytes").contains("65537");
        assertThat(violations.get(1).rule()).contains("instance-id");
        assertThat(violations.get(2).rule()).contains("version: 1").contains("version: 2");
    }

    @Test
    void userDataIsMeasuredInUtf8Bytes() {
        String wide = "\u00e9".repeat(CloudInit.MAX_USER_DATA_BYTES / 2 + 1); // two bytes each
        assertThat(onlyViolation(valid().cloudInit(CloudInit.userData(wide))).rule()).contains("bytes in UTF-8");
        assertThat(onlyViolation(valid().cloudInit(CloudInit.userData(""))).rule()).contains("empty");
        assertThat(onlyViolation(valid().cloudInit(CloudInit.userData("a\0b"))).rule()).contains("NUL");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"instance-id\": ", "{\"instance-id\": 5}", "{\"a\": 1} {}", "instance-id:\n",
            "\tinstance-id: x\n", "instance-id: x\n\tother: y\n", "just a line\n", "- a list\n", "[1, 2]"})
    void badMetaDataIsRefused(String meta) {
        Violation v = onlyViolation(valid().cloudInit(CloudInit.userData("u").withMetaData(meta)));
        assertThat(v.field()).isEqualTo("cloudInit.metaData");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"version\": 3}", "{\"version\": \"2\"", "version: 3\n", "network:\n  config: []\n",
            "ethernets:\n\teth0: {}\nversion: 2\n", "config:\n  version: 2\n"})
    void badNetworkConfigIsRefused(String network) {
        Violation v = onlyViolation(valid().cloudInit(CloudInit.userData("u").withNetworkConfig(network)));
        assertThat(v.field()).isEqualTo("cloudInit.networkConfig");
    }

    @Test
    void nullPartsAreRefusedWhereTheyAreGiven() {
        assertThatThrownBy(() -> CloudInit.userData(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> CloudInit.userData("u").withMetaData(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> NicSpec.user("eth0").forward((PortForward) null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> PortForward.tcp(1, 1).onHostAddress(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void runtimeForwardsCarryBoundPorts() {
        assertThat(new VmRuntime(1, "m").forwards()).isEmpty();
        assertThat(new VmRuntime(1, "m", List.of(PortForward.tcp(4000, 22))).forwards()).hasSize(1);
        assertThatThrownBy(() -> new VmRuntime(1, "m", List.of(PortForward.tcp(0, 22))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bound");
    }
}
