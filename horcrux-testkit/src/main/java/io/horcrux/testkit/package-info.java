/**
 * Real implementations of the SPI for tests and benchmarks: an in-memory inventory and a
 * simulated hypervisor with fault injection. They keep the same contracts as the SQLite store
 * and the QEMU driver, so code tested on them behaves the same on the real ones.
 */
package io.horcrux.testkit;
