/** The embedded SQLite inventory: {@link io.horcrux.store.SqliteVmStore}. */
module io.horcrux.store {
    requires transitive io.horcrux.core;
    requires com.zaxxer.hikari;
    requires java.sql;
    requires org.slf4j;
    requires org.xerial.sqlitejdbc;

    exports io.horcrux.store;
}
