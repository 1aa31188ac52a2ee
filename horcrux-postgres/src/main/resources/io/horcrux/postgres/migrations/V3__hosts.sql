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
