package io.horcrux.model;

import java.util.regex.Pattern;

/** The rules shared by the spec and the query, so both say the same thing the same way. */
final class SpecRules {
    static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    static final String ID_RULE = "must match [a-z0-9][a-z0-9-]{0,62}: 1 to 63 lower-case letters, digits"
            + " or '-', not starting with '-'";
    static final Pattern PART_NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");
    static final String PART_NAME_RULE = "must match [a-z0-9][a-z0-9-]{0,31}";
    static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,62}");
    static final String LABEL_KEY_RULE = "label keys must match [A-Za-z0-9][A-Za-z0-9._/-]{0,62}";
    static final int MAX_LABEL_VALUE = 255;
    static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");

    private SpecRules() {
    }

    // The checks below say what the patterns above say, without a Matcher per call: a spec is
    // validated on every read of a stored one. SpecRulesTest holds each to its pattern.

    /** Whether {@code s} matches {@link #ID}. */
    static boolean isId(String s) {
        return s != null && lowerWord(s, 63);
    }

    /** Whether {@code s} matches {@link #PART_NAME}. */
    static boolean isPartName(String s) {
        return s != null && lowerWord(s, 32);
    }

    /** {@code [a-z0-9][a-z0-9-]{0,max-1}}. */
    private static boolean lowerWord(String s, int max) {
        int n = s.length();
        if (n == 0 || n > max || s.charAt(0) == '-') {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code s} matches {@link #LABEL_KEY}. */
    static boolean isLabelKey(String s) {
        if (s == null) {
            return false;
        }
        int n = s.length();
        if (n == 0 || n > 63) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            boolean alnum = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
            if (!alnum && (i == 0 || c != '.' && c != '_' && c != '/' && c != '-')) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code s} matches {@link #MAC}. */
    static boolean isMac(String s) {
        if (s == null || s.length() != 17) {
            return false;
        }
        for (int i = 0; i < 17; i++) {
            char c = s.charAt(i);
            boolean ok = i % 3 == 2 ? c == ':' : c >= '0' && c <= '9' || c >= 'a' && c <= 'f';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    static boolean hasControlCharacter(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                return true;
            }
        }
        return false;
    }

    /** The label-value rule, or {@code null} when the value is acceptable. */
    static String labelValueProblem(String value) {
        if (value == null) {
            return "label values must not be null";
        }
        if (value.length() > MAX_LABEL_VALUE) {
            return "label values must be at most " + MAX_LABEL_VALUE + " characters";
        }
        if (hasControlCharacter(value)) {
            return "label values must not contain control characters";
        }
        return null;
    }
}
