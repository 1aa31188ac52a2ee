package io.horcrux.postgres;

import io.horcrux.LeaseLostException;
import io.horcrux.StoreException;
import java.sql.SQLException;

/** What a failed statement means, by its SQLSTATE. */
final class PgErrors {
    /** unique_violation */
    static final String UNIQUE_VIOLATION = "23505";

    private PgErrors() {
    }

    /** raised by the fencing trigger: the write's token is not its host's live epoch */
    static final String STALE_TOKEN = "HX001";
    /** raised by the fencing trigger: the VM belongs to another host whose lease is live */
    static final String NOT_OWNER = "HX002";

    static boolean isUniqueViolation(SQLException e) {
        return hasState(e, UNIQUE_VIOLATION);
    }

    static boolean hasState(Exception e, String state) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s) {
                if (state.equals(s.getSQLState())) {
                    return true;
                }
                SQLException next = s.getNextException();
                if (next != null && next != t && state.equals(next.getSQLState())) {
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
        if (hasState(e, STALE_TOKEN)) {
            return new LeaseLostException(where + ": " + operation + " refused by the database (" + reason + ")", e);
        }
        if (hasState(e, NOT_OWNER)) {
            return new StoreException(where + ": " + operation + " refused by the database (" + reason + ")", e);
        }
        return new StoreException(where + ": " + operation + " failed (" + reason + ")", e);
    }
}
