-- The snapshot journal: at most one snapshot operation per VM that the manager began and has not
-- finished (operation TAKE, REVERT or DELETE, with the snapshot as it is or is to be stored). A row
-- a crash left behind tells the next manager what to finish or roll back. Deleted with its VM.
-- taken_at and started_at are nanoseconds since the epoch.
CREATE TABLE vm_snapshot_intents (
    vm_id       TEXT    NOT NULL PRIMARY KEY REFERENCES vms (id) ON DELETE CASCADE,
    operation   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    parent      TEXT,
    taken_at    INTEGER NOT NULL,
    with_memory INTEGER NOT NULL,
    is_current  INTEGER NOT NULL,
    taken_while TEXT    NOT NULL,
    started_at  INTEGER NOT NULL
) WITHOUT ROWID;
