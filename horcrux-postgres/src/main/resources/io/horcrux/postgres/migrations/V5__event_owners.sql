-- A change's previous owner, so that the hosts that read the events can tell a move (or a
-- takeover) from a change of status or of runtime facts. NULL for a create.
-- A delete is written by the VM's owner (only the owner may delete), not by whoever wrote the
-- row last (a host that moved it here), so the owner is what the delete's event names.
ALTER TABLE ${schema}.vm_events ADD COLUMN previous_owner text COLLATE "C";

CREATE OR REPLACE FUNCTION ${schema}.vms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A single-host store (no token) has nobody to tell.
    IF (TG_OP = 'DELETE' AND OLD.written_by IS NULL) OR (TG_OP <> 'DELETE' AND NEW.written_by IS NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO ${schema}.vm_events (vm_id, version, previous_status, status, reason, previous_owner, owner,
                                         written_by, at)
            VALUES (OLD.id, OLD.version, OLD.status, NULL, 'deleted', OLD.owner, OLD.owner, OLD.owner,
                    OLD.updated_at);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO ${schema}.vm_events (vm_id, version, previous_status, status, reason, previous_owner, owner,
                                         written_by, at)
            VALUES (NEW.id, NEW.version, NULL, NEW.status, NEW.status_reason, NULL, NEW.owner, NEW.written_by,
                    NEW.updated_at);
    ELSE
        INSERT INTO ${schema}.vm_events (vm_id, version, previous_status, status, reason, previous_owner, owner,
                                         written_by, at)
            VALUES (NEW.id, NEW.version, OLD.status, NEW.status, NEW.status_reason, OLD.owner, NEW.owner,
                    NEW.written_by, NEW.updated_at);
    END IF;
    PERFORM pg_notify('horcrux_events', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
