-- A linked clone's disks are overlays on its template's: linked_template names the template
-- (NULL for every other VM), so that a template with linked clones is never deleted. Written with
-- the clone's row, never changed, gone with it. Templates themselves are a status.
ALTER TABLE ${schema}.vms ADD COLUMN linked_template text COLLATE "C";
CREATE INDEX vms_linked_template ON ${schema}.vms (linked_template, id) WHERE linked_template IS NOT NULL;
