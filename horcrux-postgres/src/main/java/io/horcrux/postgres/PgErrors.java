package io.horcrux.postgres;

import io.horcrux.StoreException;
import java.sql.SQLException;

/** What a failed statement means, by its SQLSTATE. */
final class PgErrors {
    /** unique_violation */
    static final String UNIQUE_VIOLATION = "23505";

    private PgErrors() {
    }

    static boolean isUniqueViolation(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s) {
                if (UNIQUE_VIOLATION.equals(s.getSQLState())) {
                    return true;
                }
                SQLException next = s.getNextException();
                if (next != null && next != t && UNIQUE_VIOLATION.equals(next.getSQLState())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A {@link StoreException} naming the store, the operation and PostgreSQL's reason. */
    static StoreException failure(String where, String operation, Exception e) {
        if (e instanceof StoreException se) {
            return se;
        }
        String reason = e.getMessage();
        if (e instanceof SQLException s && s.getNextException() != null) {
            reason = s.getNextException().getMessage(); // a batch's first message says only "see getNextException"
        }
        return new StoreException(where + ": " + operation + " failed (" + reason + ")", e);
    }
}
