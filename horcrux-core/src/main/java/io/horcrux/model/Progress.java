package io.horcrux.model;

import java.util.Objects;

/**
 * How far a long piece of work on one VM has come, as its {@link io.horcrux.ProgressListener}
 * hears it: for example the copy of a disk made from an image when the VM is created
 * ({@link DiskSpec#copyOf}).
 *
 * @param vmId    the VM the work is for
 * @param task    what is being done, a short lower-case word such as {@code "copy"}
 * @param disk    the disk it is done to, a name of the VM's spec
 * @param percent from 0 to 100; a task's events never go back, and its last one is 100 when it
 *                succeeded
 */
public record Progress(String vmId, String task, String disk, double percent) {
    /** The task of {@link DiskSpec#copyOf} disks. */
    public static final String COPY = "copy";

    public Progress {
        Objects.requireNonNull(vmId, "vmId");
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(disk, "disk");
        if (!(percent >= 0 && percent <= 100)) {
            throw new IllegalArgumentException("percent must be from 0 to 100, was " + percent);
        }
    }
}
