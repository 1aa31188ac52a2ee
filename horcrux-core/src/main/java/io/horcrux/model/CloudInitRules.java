package io.horcrux.model;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The rules of {@link CloudInit}, documented there: sizes, and the shallow shape of meta-data and
 * network-config (a JSON object, or YAML whose top-level keys can be read line by line).
 */
final class CloudInitRules {
    private static final JsonFactory JSON = new JsonFactory();
    /** A top-level YAML mapping line: a plain key, a colon, then a space and a value, or nothing. */
    private static final Pattern TOP_LEVEL_KEY = Pattern.compile("([A-Za-z0-9_][A-Za-z0-9_.-]*)[ ]*:(?:[ ]+(.*))?");
    private static final Pattern VERSION = Pattern.compile("[12]");

    private CloudInitRules() {
    }

    static void check(CloudInit seed, List<Violation> violations) {
        String userData = seed.userData();
        if (userData.isEmpty()) {
            violations.add(new Violation("cloudInit.userData", "must not be empty"));
        }
        checkText("cloudInit.userData", userData, CloudInit.MAX_USER_DATA_BYTES, violations);
        if (seed.metaData() != null && checkText("cloudInit.metaData", seed.metaData(), CloudInit.MAX_META_DATA_BYTES,
                violations)) {
            String problem = metaDataProblem(seed.metaData());
            if (problem != null) {
                violations.add(new Violation("cloudInit.metaData", problem));
            }
        }
        if (seed.networkConfig() != null && checkText("cloudInit.networkConfig", seed.networkConfig(),
                CloudInit.MAX_NETWORK_CONFIG_BYTES, violations)) {
            String problem = networkConfigProblem(seed.networkConfig());
            if (problem != null) {
                violations.add(new Violation("cloudInit.networkConfig", problem));
            }
        }
    }

    /** Size and NUL; true when the text may be examined further. */
    private static boolean checkText(String field, String text, int maxBytes, List<Violation> violations) {
        boolean ok = true;
        if (text.length() > maxBytes || text.getBytes(StandardCharsets.UTF_8).length > maxBytes) {
            violations.add(new Violation(field, "must be at most " + maxBytes + " bytes in UTF-8, was "
                    + text.getBytes(StandardCharsets.UTF_8).length));
            ok = false;
        }
        if (text.indexOf('\0') >= 0) {
            violations.add(new Violation(field, "must not contain NUL characters"));
            ok = false;
        }
        return ok;
    }

    private static boolean isJson(String text) {
        return text.stripLeading().startsWith("{");
    }

    static String metaDataProblem(String text) {
        if (isJson(text)) {
            try {
                String id = jsonTopLevelString(text, "instance-id");
                return id == null || id.isBlank() ? "a JSON object that must set a non-empty \"instance-id\" string" : null;
            } catch (IOException e) {
                return "must be a JSON object or YAML 'key: value' lines; it starts with '{' but is not valid JSON ("
                        + firstLine(e.getMessage()) + ")";
            }
        }
        YamlTop top = yamlTop(text);
        if (top.problem != null) {
            return top.problem;
        }
        String id = top.instanceId;
        return id == null || id.isEmpty() ? "must set a non-empty instance-id (a top-level 'instance-id: <id>' line)" : null;
    }

    static String networkConfigProblem(String text) {
        if (isJson(text)) {
            try {
                return jsonHasVersion(text) ? null
                        : "a JSON object that must have \"version\": 1 or 2 at its top level or under \"network\"";
            } catch (IOException e) {
                return "must be a JSON object or YAML; it starts with '{' but is not valid JSON ("
                        + firstLine(e.getMessage()) + ")";
            }
        }
        YamlTop top = yamlTop(text);
        if (top.problem != null) {
            return top.problem;
        }
        return top.hasVersion ? null : "must say 'version: 1' or 'version: 2' at its top level or directly under 'network:'";
    }

    /** What the line-by-line reading of a YAML document's top level found. */
    private record YamlTop(String problem, String instanceId, boolean hasVersion) {
    }

    private static YamlTop yamlTop(String text) {
        String instanceId = null;
        boolean hasVersion = false;
        boolean inNetwork = false;
        int networkChildIndent = -1;
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            String stripped = line.strip();
            if (stripped.isEmpty() || stripped.startsWith("#") || (i == 0 && stripped.equals("---"))) {
                continue;
            }
            int indent = 0;
            while (indent < line.length() && (line.charAt(indent) == ' ' || line.charAt(indent) == '\t')) {
                if (line.charAt(indent) == '\t') {
                    return new YamlTop("YAML must be indented with spaces, not tabs (line " + (i + 1) + ")", null, false);
                }
                indent++;
            }
            if (indent == 0) {
                Matcher m = TOP_LEVEL_KEY.matcher(stripped);
                if (!m.matches()) {
                    return new YamlTop("must be a JSON object or a YAML mapping; line " + (i + 1)
                            + " is not a top-level 'key: value' line", null, false);
                }
                String value = m.group(2) == null ? "" : unquote(stripComment(m.group(2)).strip());
                inNetwork = m.group(1).equals("network") && value.isEmpty();
                networkChildIndent = -1;
                if (m.group(1).equals("instance-id")) {
                    instanceId = value;
                } else if (m.group(1).equals("version") && VERSION.matcher(value).matches()) {
                    hasVersion = true;
                }
            } else if (inNetwork) {
                if (networkChildIndent < 0) {
                    networkChildIndent = indent;
                }
                if (indent == networkChildIndent) {
                    Matcher m = TOP_LEVEL_KEY.matcher(stripped);
                    if (m.matches() && m.group(1).equals("version") && m.group(2) != null
                            && VERSION.matcher(unquote(stripComment(m.group(2)).strip())).matches()) {
                        hasVersion = true;
                    }
                }
            }
        }
        return new YamlTop(null, instanceId, hasVersion);
    }

    private static String stripComment(String value) {
        int hash = value.indexOf(" #");
        return hash < 0 ? value : value.substring(0, hash);
    }

    private static String unquote(String value) {
        if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
                || value.startsWith("'") && value.endsWith("'"))) {
            return value.substring(1, value.length() - 1);
        }
        return value;
    }

    /** The string value of a top-level field of a JSON object, or null; fails if the text is not one JSON object. */
    private static String jsonTopLevelString(String text, String field) throws IOException {
        String found = null;
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("not an object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (name.equals(field) && value == JsonToken.VALUE_STRING) {
                    found = p.getText();
                } else {
                    p.skipChildren();
                }
            }
            requireEnd(p);
        }
        return found;
    }

    private static boolean jsonHasVersion(String text) throws IOException {
        boolean found = false;
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("not an object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (name.equals("version")) {
                    found |= isVersion(p, value);
                } else if (name.equals("network") && value == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String inner = p.currentName();
                        JsonToken v = p.nextToken();
                        if (inner.equals("version")) {
                            found |= isVersion(p, v);
                        } else {
                            p.skipChildren();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
            requireEnd(p);
        }
        return found;
    }

    private static boolean isVersion(JsonParser p, JsonToken value) throws IOException {
        return value == JsonToken.VALUE_NUMBER_INT && (p.getIntValue() == 1 || p.getIntValue() == 2);
    }

    private static void requireEnd(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.END_OBJECT) {
            throw new IOException("the object does not end");
        }
        if (p.nextToken() != null) {
            throw new IOException("text follows the object");
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        int nl = message.indexOf('\n');
        String first = nl < 0 ? message : message.substring(0, nl);
        return VmSpec.printable(first);
    }
}
