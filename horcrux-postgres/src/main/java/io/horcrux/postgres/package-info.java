/**
 * The PostgreSQL inventory: {@link io.horcrux.postgres.PostgresVmStore}, a
 * {@link io.horcrux.spi.VmStore} in one schema of a PostgreSQL database, on pgjdbc with a
 * HikariCP pool (or a {@link javax.sql.DataSource} of the application's). Everything else in
 * this package is internal.
 */
package io.horcrux.postgres;
