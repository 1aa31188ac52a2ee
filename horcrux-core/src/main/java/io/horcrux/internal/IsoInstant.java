package io.horcrux.internal;

import java.time.Instant;

/**
 * {@link Instant#toString()} without a formatter: the same ISO-8601 text ({@code
 * 2026-12-01T12:27:44.100Z}, the fraction in groups of three digits as needed), written into a
 * caller's buffer. Instants outside the years 0001 to 9999 (before year 1, or with a sign in
 * {@code toString}) go through {@code toString} itself. The JSON of a VM holds two instants,
 * and writing them through {@code toString} costs more than the rest of the VM.
 *
 * <p>Not API: this package may change without notice.
 */
public final class IsoInstant {
    /** Enough for every instant this class writes itself: {@code yyyy-MM-ddTHH:mm:ss.nnnnnnnnnZ}. */
    public static final int MAX_LENGTH = 30;

    private static final long FIRST = Instant.parse("0001-01-01T00:00:00Z").getEpochSecond();
    private static final long LAST = Instant.parse("9999-12-31T23:59:59Z").getEpochSecond();

    private IsoInstant() {
    }

    /**
     * Writes {@code t} as {@link Instant#toString()} does into {@code out} from index 0 and returns
     * the length, or returns -1 (writing nothing) for an instant outside the years 0001 to 9999.
     *
     * @param out at least {@link #MAX_LENGTH} characters
     */
    public static int format(Instant t, char[] out) {
        return format(t, out, 0);
    }

    /** As {@link #format(Instant, char[])}, from index {@code at}; {@code out} has room for {@link #MAX_LENGTH} there. */
    public static int format(Instant t, char[] out, int at) {
        long seconds = t.getEpochSecond();
        if (seconds < FIRST || seconds > LAST) {
            return -1;
        }
        int days = (int) Math.floorDiv(seconds, 86_400L);
        int secondOfDay = (int) Math.floorMod(seconds, 86_400L);
        // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar, as java.time):
        // eras of 400 years, counted from 0000-03-01 so that the leap day ends a year. The years
        // written here are all in eras 0 to 24, so no division below meets a negative number (year 0 would).
        int z = days + 719_468;
        int era = z / 146_097;
        int dayOfEra = z - era * 146_097;
        int yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
        int dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
        int mp = (5 * dayOfYear + 2) / 153;
        int day = dayOfYear - (153 * mp + 2) / 5 + 1;
        int month = mp < 10 ? mp + 3 : mp - 9;
        int year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
        two(out, at, year / 100);
        two(out, at + 2, year % 100);
        out[at + 4] = '-';
        two(out, at + 5, month);
        out[at + 7] = '-';
        two(out, at + 8, day);
        out[at + 10] = 'T';
        two(out, at + 11, secondOfDay / 3600);
        out[at + 13] = ':';
        two(out, at + 14, secondOfDay / 60 % 60);
        out[at + 16] = ':';
        two(out, at + 17, secondOfDay % 60);
        int n = at + 19;
        int nano = t.getNano();
        if (nano != 0) {
            out[n++] = '.';
            int millis = nano / 1_000_000;
            int micros = nano / 1000 % 1000;
            int nanos = nano % 1000;
            three(out, n, millis);
            n += 3;
            if (micros != 0 || nanos != 0) {
                three(out, n, micros);
                n += 3;
                if (nanos != 0) {
                    three(out, n, nanos);
                    n += 3;
                }
            }
        }
        out[n++] = 'Z';
        return n - at;
    }

    private static void two(char[] out, int at, int value) {
        out[at] = (char) ('0' + value / 10);
        out[at + 1] = (char) ('0' + value % 10);
    }

    private static void three(char[] out, int at, int value) {
        out[at] = (char) ('0' + value / 100);
        two(out, at + 1, value % 100);
    }
}
