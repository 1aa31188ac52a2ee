/**
 * The embedded SQLite inventory: {@link io.horcrux.store.SqliteVmStore}, a
 * {@link io.horcrux.spi.VmStore} in one database file (or in memory, for tests), on
 * sqlite-jdbc with a HikariCP pool of reader connections. Everything else in this package is
 * internal.
 */
package io.horcrux.store;
