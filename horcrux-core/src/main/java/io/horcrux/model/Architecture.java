package io.horcrux.model;

/** The guest CPU architecture. A driver refuses architectures it cannot run. */
public enum Architecture {
    X86_64,
    AARCH64
}
