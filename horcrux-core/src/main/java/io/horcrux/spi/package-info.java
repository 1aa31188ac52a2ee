/**
 * The two plug points of a {@link io.horcrux.VmManager}: {@link io.horcrux.spi.VmStore} keeps the
 * inventory, {@link io.horcrux.spi.VmDriver} runs the VMs. Implement one to put Horcrux on a new
 * database or hypervisor; the abstract {@code VmStoreContract} and {@code VmDriverContract} tests
 * in the {@code horcrux-core} test-jar say whether the implementation keeps the contract.
 *
 * <p>{@link io.horcrux.spi.VmCodec} turns a VM or its spec into bytes of a stable format and
 * back, for a store that keeps them as one value.
 */
package io.horcrux.spi;
