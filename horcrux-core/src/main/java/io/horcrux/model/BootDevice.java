package io.horcrux.model;

/** A device a guest's firmware may boot from. */
public enum BootDevice {
    DISK,
    CDROM,
    NETWORK
}
