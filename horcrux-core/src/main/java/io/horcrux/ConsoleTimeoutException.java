package io.horcrux;

import java.util.regex.Pattern;

/**
 * {@link VmConsole#await} saw no matching line: in time, or before the VM stopped. The message
 * names the VM, the pattern and the last lines the guest printed.
 */
public class ConsoleTimeoutException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String vmId;
    private final String pattern;
    private final String lastLines;

    public ConsoleTimeoutException(String vmId, Pattern pattern, String why, String lastLines) {
        super("VM '" + vmId + "': no console line matched /" + pattern.pattern() + "/ " + why
                + (lastLines.isEmpty() ? "; the guest printed nothing" : "; last lines seen:\n" + lastLines));
        this.vmId = vmId;
        this.pattern = pattern.pattern();
        this.lastLines = lastLines;
    }

    public String vmId() {
        return vmId;
    }

    /** The pattern awaited. */
    public String pattern() {
        return pattern;
    }

    /** The last lines the guest printed before the wait ended, possibly empty. */
    public String lastLines() {
        return lastLines;
    }
}
