package io.horcrux.model;

import java.util.List;
import java.util.Objects;

/**
 * How a VM boots: through its firmware from devices in {@code order}, or straight into a
 * kernel image on the host ({@code kernel}, with an optional {@code initrd} and kernel
 * command line), the fast path for microVMs.
 *
 * @param order   devices the firmware tries, first to last; not empty
 * @param kernel  absolute, normalised host path of a kernel image, or {@code null}
 * @param initrd  absolute, normalised host path of an initial ramdisk, or {@code null}; needs a kernel
 * @param cmdline kernel command line, or {@code null}; needs a kernel
 */
public record BootSpec(List<BootDevice> order, String kernel, String initrd, String cmdline) {
    private static final BootSpec DEFAULT = new BootSpec(List.of(BootDevice.DISK), null, null, null);

    public BootSpec {
        order = List.copyOf(Objects.requireNonNull(order, "order"));
    }

    /** Firmware boot from the first disk. */
    public static BootSpec defaults() {
        return DEFAULT;
    }

    /** Firmware boot from the given devices, in order. */
    public static BootSpec devices(BootDevice first, BootDevice... more) {
        BootDevice[] all = new BootDevice[more.length + 1];
        all[0] = first;
        System.arraycopy(more, 0, all, 1, more.length);
        return new BootSpec(List.of(all), null, null, null);
    }

    /** Direct kernel boot. */
    public static BootSpec kernel(String kernel, String initrd, String cmdline) {
        return new BootSpec(List.of(BootDevice.DISK), Objects.requireNonNull(kernel, "kernel"), initrd, cmdline);
    }
}
