-- A linked clone's disks are overlays on its template's: linked_template names the template
-- (NULL for every other VM), so that a template with linked clones is never deleted. Set when the
-- clone is inserted, never changed, gone with the clone's row. Templates themselves are a status.
ALTER TABLE vms ADD COLUMN linked_template TEXT;
CREATE INDEX vms_linked_template ON vms (linked_template, id) WHERE linked_template IS NOT NULL;
