-- Each VM's snapshots, a tree: parent names the snapshot of the same VM the VM was at when this
-- one was taken (NULL for a root); is_current marks the one the VM is at now (at most one per VM).
-- Read only when asked for, never with a list of VMs. taken_at is nanoseconds since the epoch.
CREATE TABLE vm_snapshots (
    vm_id       TEXT    NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    parent      TEXT,
    taken_at    INTEGER NOT NULL,
    with_memory INTEGER NOT NULL,
    is_current  INTEGER NOT NULL,
    taken_while TEXT    NOT NULL,
    PRIMARY KEY (vm_id, name)
) WITHOUT ROWID;
