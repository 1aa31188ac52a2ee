/** One inventory for several hosts: {@link io.horcrux.postgres.PostgresVmStore}. */
module io.horcrux.postgres {
    requires transitive io.horcrux.core;
    requires transitive java.sql;
    requires com.zaxxer.hikari;
    requires org.postgresql.jdbc;
    requires org.slf4j;

    exports io.horcrux.postgres;
}
