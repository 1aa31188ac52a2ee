package io.horcrux.model;

/**
 * The I/O a VM's guest has done on one of its disks since the VM's process started, as the
 * hypervisor counts it (for QEMU, {@code query-blockstats}). The counters only grow while the
 * process runs and begin again at zero with the next start.
 *
 * @param readBytes    bytes the guest read
 * @param writtenBytes bytes the guest wrote
 * @param readOps      read requests the guest completed
 * @param writeOps     write requests the guest completed
 */
public record DiskStats(long readBytes, long writtenBytes, long readOps, long writeOps) {
    /** No I/O yet. */
    public static final DiskStats ZERO = new DiskStats(0, 0, 0, 0);

    /**
     * @throws IllegalArgumentException if a counter is negative
     */
    public DiskStats {
        requireNonNegative(readBytes, "readBytes");
        requireNonNegative(writtenBytes, "writtenBytes");
        requireNonNegative(readOps, "readOps");
        requireNonNegative(writeOps, "writeOps");
    }

    private static void requireNonNegative(long value, String name) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must not be negative, was " + value);
        }
    }
}
