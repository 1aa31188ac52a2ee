-- The VM inventory, as the SQLite store lays it out: scalar columns for what queries filter and
-- sort on, the spec as the codec's JSON text. ${schema} is the store's schema, quoted.
-- Timestamps are nanoseconds since the epoch (UTC), so that instants round-trip exactly.
-- Ids sort in the "C" collation: code point order, the same order as Java's for VM ids, and
-- the same for every database whatever its locale.
CREATE TABLE ${schema}.vms (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    name            text    NOT NULL,
    status          text    NOT NULL,
    version         bigint  NOT NULL CHECK (version >= 1),
    created_at      bigint  NOT NULL,
    updated_at      bigint  NOT NULL,
    status_reason   text    NOT NULL,
    runtime_pid     bigint,
    runtime_monitor text,
    spec_json       text    NOT NULL
);

CREATE INDEX vms_status ON ${schema}.vms (status, id);
CREATE INDEX vms_name ON ${schema}.vms (name);
CREATE INDEX vms_created_at ON ${schema}.vms (created_at);
CREATE INDEX vms_updated_at ON ${schema}.vms (updated_at);

-- Labels are copied out of the spec so that label filters are index lookups.
CREATE TABLE ${schema}.vm_labels (
    vm_id text COLLATE "C" NOT NULL REFERENCES ${schema}.vms (id) ON DELETE CASCADE,
    key   text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (vm_id, key)
);

CREATE INDEX vm_labels_key_value ON ${schema}.vm_labels (key, value, vm_id);
