-- Each VM's snapshots, a tree: parent names the snapshot of the same VM the VM was at when this
-- one was taken (NULL for a root); is_current marks the one the VM is at now (at most one per VM).
-- Read only when asked for, never with a list of VMs. taken_at is nanoseconds since the epoch.
CREATE TABLE ${schema}.vm_snapshots (
    vm_id       text COLLATE "C" NOT NULL REFERENCES ${schema}.vms (id) ON DELETE CASCADE,
    name        text    NOT NULL,
    parent      text,
    taken_at    bigint  NOT NULL,
    with_memory boolean NOT NULL,
    is_current  boolean NOT NULL,
    taken_while text    NOT NULL,
    PRIMARY KEY (vm_id, name)
);
