/**
 * Horcrux: manage QEMU/KVM virtual machines from inside a Java application.
 *
 * <p>Start at {@link io.horcrux.VmManager}: build one over a {@link io.horcrux.spi.VmStore} and
 * a {@link io.horcrux.spi.VmDriver}, share it, close it at shutdown. Every exception thrown on
 * purpose extends {@link io.horcrux.HorcruxException}.
 */
package io.horcrux;
