-- Several hosts, one inventory. Every VM is owned by one host; each host holds a lease row whose
-- epoch is its fencing token. Every insert and update of a VM carries its writer's token
-- (written_by, written_epoch) and the trigger below refuses it unless the token is its host's
-- current epoch with a lease that has not expired, by the database's clock. A NULL token is a
-- store that serves one host alone (it holds the inventory exclusively, so no host can run).
-- VMs stored before owners existed belong to the default host, 'local'.
ALTER TABLE ${schema}.vms ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT 'local';
ALTER TABLE ${schema}.vms ADD COLUMN written_by text COLLATE "C";
ALTER TABLE ${schema}.vms ADD COLUMN written_epoch bigint;
CREATE INDEX vms_owner ON ${schema}.vms (owner, id);

CREATE TABLE ${schema}.hosts (
    host        text COLLATE "C" NOT NULL PRIMARY KEY,
    epoch       bigint      NOT NULL CHECK (epoch >= 1),
    expires_at  timestamptz NOT NULL,
    acquired_at timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    released    boolean     NOT NULL DEFAULT false
);

CREATE FUNCTION ${schema}.vms_fence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner_live boolean;
BEGIN
    IF NEW.written_by IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM ${schema}.hosts h WHERE h.host = NEW.written_by AND h.epoch = NEW.written_epoch
        AND NOT h.released AND h.expires_at > clock_timestamp();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stale fencing token: host % epoch % does not hold a live lease', NEW.written_by, NEW.written_epoch
            USING ERRCODE = 'HX001';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.owner <> NEW.written_by THEN
            RAISE EXCEPTION 'host % may create only VMs it owns, not VM % for host %', NEW.written_by, NEW.id, NEW.owner
                USING ERRCODE = 'HX002';
        END IF;
    ELSIF OLD.owner <> NEW.written_by AND OLD.status NOT IN ('STOPPED', 'CRASHED') THEN
        SELECT (NOT h.released AND h.expires_at > clock_timestamp()) INTO owner_live
            FROM ${schema}.hosts h WHERE h.host = OLD.owner;
        IF owner_live IS DISTINCT FROM false THEN
            RAISE EXCEPTION 'VM % is % on host %, whose lease is live: host % may not change it', OLD.id, OLD.status,
                OLD.owner, NEW.written_by USING ERRCODE = 'HX002';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER vms_fence BEFORE INSERT OR UPDATE ON ${schema}.vms
    FOR EACH ROW EXECUTE FUNCTION ${schema}.vms_fence();

-- One view across hosts: every change a host makes to a VM row appends an event in the same transaction (the
-- source of truth, in sequence order), and a NOTIFY on channel horcrux_events wakes the hosts
-- that listen; a host that was away reads on from the last sequence it saw.
CREATE TABLE ${schema}.vm_events (
    seq             bigserial PRIMARY KEY,
    vm_id           text COLLATE "C" NOT NULL,
    version         bigint NOT NULL,
    previous_status text,
    status          text,
    reason          text NOT NULL,
    owner           text COLLATE "C" NOT NULL,
    written_by      text COLLATE "C",
    at              bigint NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX vm_events_recorded_at ON ${schema}.vm_events (recorded_at);

CREATE FUNCTION ${schema}.vms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A single-host store (no token) has nobody to tell.
    IF (TG_OP = 'DELETE' AND OLD.written_by IS NULL) OR (TG_OP <> 'DELETE' AND NEW.written_by IS NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO ${schema}.vm_events (vm_id, version, previous_status, status, reason, owner, written_by, at)
            VALUES (OLD.id, OLD.version, OLD.status, NULL, 'deleted', OLD.owner, OLD.written_by, OLD.updated_at);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO ${schema}.vm_events (vm_id, version, previous_status, status, reason, owner, written_by, at)
            VALUES (NEW.id, NEW.version, NULL, NEW.status, NEW.status_reason, NEW.owner, NEW.written_by, NEW.updated_at);
    ELSE
        INSERT INTO ${schema}.vm_events (vm_id, version, previous_status, status, reason, owner, written_by, at)
            VALUES (NEW.id, NEW.version, OLD.status, NEW.status, NEW.status_reason, NEW.owner, NEW.written_by,
                    NEW.updated_at);
    END IF;
    PERFORM pg_notify('horcrux_events', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;

CREATE TRIGGER vms_changed AFTER INSERT OR UPDATE OR DELETE ON ${schema}.vms
    FOR EACH ROW EXECUTE FUNCTION ${schema}.vms_changed();
