-- The port forwards a running VM's hypervisor bound on the host (VmRuntime.forwards), as the JSON
-- array of VmCodec.encodeForwards; NULL when it has none or the VM is not active.
ALTER TABLE ${schema}.vms ADD COLUMN runtime_forwards text;
