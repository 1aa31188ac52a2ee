package io.horcrux.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The probe's guest code as bytes: a valid Multiboot image whose result codes the probe can read. */
class ProbePayloadTest {

    @Test
    void isAMultibootImageWithItsAddressesInTheHeader() {
        byte[] image = ProbePayload.image();
        ByteBuffer header = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int magic = header.getInt(0);
        int flags = header.getInt(4);
        int checksum = header.getInt(8);
        assertThat(magic).isEqualTo(0x1BADB002);
        assertThat(flags & 0x00010000).as("the a.out kludge: addresses given in the header").isNotZero();
        assertThat(magic + flags + checksum).isZero();
        int headerAddress = header.getInt(12);
        int loadAddress = header.getInt(16);
        int entry = header.getInt(28);
        assertThat(headerAddress).isEqualTo(loadAddress).isEqualTo(0x100000);
        assertThat(entry).isGreaterThan(loadAddress).isLessThan(loadAddress + image.length);
        assertThat(image[entry - loadAddress] & 0xFF).as("the first instruction is cli").isEqualTo(0xFA);
    }

    @Test
    void isSmallAndTheSameEveryTime() {
        assertThat(ProbePayload.image()).hasSizeLessThan(1024).isEqualTo(ProbePayload.image());
        ProbePayload.image()[0] = 0;
        assertThat(ProbePayload.image()[0]).as("image() hands out copies").isNotZero();
    }

    @Test
    void exitStatusesOfACompletedRunAreRecognisedAndNothingElse() {
        assertThat(ProbePayload.exitStatus(ProbePayload.RAN)).isEqualTo(65);
        assertThat(ProbePayload.exitStatus(ProbePayload.RAN | ProbePayload.RAN_CMPXCHG16B | ProbePayload.RAN_XSAVE))
                .isEqualTo(71);
        for (int status = 0; status < 256; status++) {
            assertThat(ProbePayload.ranToTheEnd(status)).as("status " + status)
                    .isEqualTo(status == 65 || status == 67 || status == 69 || status == 71);
        }
    }
}
