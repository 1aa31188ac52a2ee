-- The VM inventory: scalar columns for what queries filter and sort on, the spec as JSON.
-- Timestamps are nanoseconds since the epoch (UTC).
CREATE TABLE vms (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    status_reason   TEXT    NOT NULL,
    runtime_pid     INTEGER,
    runtime_monitor TEXT,
    spec_json       TEXT    NOT NULL
) WITHOUT ROWID;

CREATE INDEX vms_status ON vms (status, id);
CREATE INDEX vms_name ON vms (name);
CREATE INDEX vms_created_at ON vms (created_at);
CREATE INDEX vms_updated_at ON vms (updated_at);

-- Labels are copied out of the spec so that label filters are index lookups.
CREATE TABLE vm_labels (
    vm_id TEXT NOT NULL REFERENCES vms (id) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (vm_id, key)
) WITHOUT ROWID;

CREATE INDEX vm_labels_key_value ON vm_labels (key, value, vm_id);
