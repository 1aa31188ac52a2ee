package io.horcrux.postgres;

import java.sql.Connection;
import java.sql.SQLException;

/** Where the store's reads and writes borrow connections: its pool or the application's DataSource. */
@FunctionalInterface
interface Connections {
    /** A connection in auto-commit mode; the caller closes it. */
    Connection getConnection() throws SQLException;
}
