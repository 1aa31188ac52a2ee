package io.horcrux;

import java.util.List;

/**
 * A template cannot be deleted: linked clones read its disk images through their own. Delete
 * the clones first (or make full clones, which need no template). Nothing was changed.
 */
public class TemplateInUseException extends HorcruxException {
    private static final long serialVersionUID = 1L;
    private final String templateId;
    private final List<String> cloneIds;

    public TemplateInUseException(String templateId, List<String> cloneIds) {
        super("cannot delete template '" + templateId + "': " + (cloneIds.size() == 1 ? "VM '" + cloneIds.get(0)
                + "' is a linked clone" : "VMs " + cloneIds + " are linked clones") + " of it and read its disks;"
                + " delete " + (cloneIds.size() == 1 ? "it" : "them") + " first. Nothing was changed");
        this.templateId = templateId;
        this.cloneIds = List.copyOf(cloneIds);
    }

    /** The template. */
    public String templateId() {
        return templateId;
    }

    /** The linked clones that use it, in id order. */
    public List<String> cloneIds() {
        return cloneIds;
    }
}
