-- The snapshot journal: at most one snapshot operation per VM that the manager began and has not
-- finished (operation TAKE, REVERT or DELETE, with the snapshot as it is or is to be stored). A row
-- a crash left behind tells the next manager what to finish or roll back. Deleted with its VM.
-- taken_at and started_at are nanoseconds since the epoch.
CREATE TABLE ${schema}.vm_snapshot_intents (
    vm_id       text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES ${schema}.vms (id) ON DELETE CASCADE,
    operation   text    NOT NULL,
    name        text    NOT NULL,
    parent      text,
    taken_at    bigint  NOT NULL,
    with_memory boolean NOT NULL,
    is_current  boolean NOT NULL,
    taken_while text    NOT NULL,
    started_at  bigint  NOT NULL
);
