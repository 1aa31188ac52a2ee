/**
 * The two plug points of a {@link io.horcrux.VmManager}: {@link io.horcrux.spi.VmStore} keeps the
 * inventory, {@link io.horcrux.spi.VmDriver} runs the VMs. Implement one to put Horcrux on a new
 * database or hypervisor; the abstract {@code VmStoreContract} and {@code VmDriverContract} tests
 * in the {@code horcrux-core} test-jar say whether the implementation keeps the contract.
 */
package io.horcrux.spi;
