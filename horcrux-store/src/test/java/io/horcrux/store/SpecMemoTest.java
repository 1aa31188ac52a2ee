package io.horcrux.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.StoreException;
import io.horcrux.model.VmSpec;
import io.horcrux.spi.VmCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SpecMemoTest {
    private final SpecMemo memo = new SpecMemo();

    private static byte[] bytes(VmSpec spec) {
        return VmCodec.encodeSpec(spec);
    }

    @Test
    void theSameBytesGiveTheSameSpecBackWithoutDecodingAgain() {
        VmSpec spec = SampleVms.vm("a").spec();
        VmSpec first = memo.decode(bytes(spec));
        assertThat(first).isEqualTo(spec);
        assertThat(memo.decode(bytes(spec))).isSameAs(first); // a copy of the bytes, not the same array
    }

    @Test
    void otherBytesGiveTheirOwnSpec() {
        VmSpec a = SampleVms.vm("a", Map.of("env", "prod")).spec();
        VmSpec b = SampleVms.vm("a", Map.of("env", "test")).spec();
        assertThat(memo.decode(bytes(a))).isEqualTo(a);
        assertThat(memo.decode(bytes(b))).isEqualTo(b).isNotEqualTo(a);
        assertThat(memo.decode(bytes(a))).isEqualTo(a);
    }

    @Test
    void bytesThatDoNotDecodeFailEveryTime() {
        byte[] bad = "{\"id\":\"../etc\",\"memoryMiB\":1,\"cpus\":1,\"architecture\":\"X86_64\"}"
                .getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> memo.decode(bad.clone())).isInstanceOf(StoreException.class);
        }
        assertThatThrownBy(() -> memo.decode("not json".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(StoreException.class);
    }

    @Test
    void moreSpecsThanItHoldsAreAllDecodedRight() {
        List<VmSpec> specs = new ArrayList<>();
        for (int i = 0; i < SpecMemo.SETS * 3; i++) {
            specs.add(SampleVms.vm(String.format("vm-%06d", i)).spec());
        }
        for (int round = 0; round < 2; round++) {
            for (VmSpec spec : specs) {
                assertThat(memo.decode(bytes(spec))).isEqualTo(spec);
            }
        }
    }
}
