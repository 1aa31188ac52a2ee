-- Every VM is owned by one host. This store serves one host alone: VMs stored before owners
-- existed belong to the default host, 'local'.
ALTER TABLE vms ADD COLUMN owner TEXT NOT NULL DEFAULT 'local';
