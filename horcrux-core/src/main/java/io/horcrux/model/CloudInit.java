package io.horcrux.model;

import java.util.Objects;

/**
 * What a guest's cloud-init reads at boot from a NoCloud seed: user-data (for example a
 * {@code #cloud-config} document that adds an SSH key), meta-data and, optionally,
 * network-config. The driver writes them to a small volume labelled {@code cidata} and attaches
 * it read-only; cloud-init in the guest finds it by its label.
 *
 * <pre>{@code
 * CloudInit seed = CloudInit.userData("""
 *         #cloud-config
 *         ssh_authorized_keys:
 *           - ssh-ed25519 AAAA... me@laptop
 *         """);
 * VmSpec spec = VmSpec.builder().id("web-1").cloudInit(seed) ... .build();
 * }</pre>
 *
 * <p>{@link VmSpec} checks the rules (every violation under the field {@code cloudInit.*}):
 * <ul>
 *   <li>user-data: not empty, at most {@value #MAX_USER_DATA_BYTES} bytes in UTF-8, no NUL;</li>
 *   <li>meta-data: at most {@value #MAX_META_DATA_BYTES} bytes; either a JSON object, or YAML
 *       made of top-level {@code key: value} lines with plain scalar values (blank lines and
 *       {@code #} comments allowed); it must set a non-empty {@code instance-id}. Without
 *       {@link #withMetaData meta-data}, it is {@code instance-id: <vm id>} and
 *       {@code local-hostname: <vm id>};</li>
 *   <li>network-config: at most {@value #MAX_NETWORK_CONFIG_BYTES} bytes; either a JSON object, or
 *       YAML indented with spaces only (never tabs); either way it must say {@code version: 1} or
 *       {@code version: 2} at its top level or directly under a top-level {@code network:} key.
 *       This is a shallow check of the shape cloud-init expects, not a full YAML parse.</li>
 * </ul>
 * cloud-init runs its per-instance modules (SSH keys, users) once per instance-id: give a new
 * instance-id to have them run again.
 *
 * @param userData      the user-data document
 * @param metaData      the meta-data document, or {@code null} for the default
 * @param networkConfig the network-config document, or {@code null} for none
 */
public record CloudInit(String userData, String metaData, String networkConfig) {
    /** The largest user-data accepted, in UTF-8 bytes (64 KiB). */
    public static final int MAX_USER_DATA_BYTES = 64 * 1024;
    /** The largest meta-data accepted, in UTF-8 bytes (16 KiB). */
    public static final int MAX_META_DATA_BYTES = 16 * 1024;
    /** The largest network-config accepted, in UTF-8 bytes (16 KiB). */
    public static final int MAX_NETWORK_CONFIG_BYTES = 16 * 1024;

    /** @throws NullPointerException if {@code userData} is null */
    public CloudInit {
        Objects.requireNonNull(userData, "userData");
    }

    /** A seed with this user-data and the default meta-data (instance-id and hostname the VM's id). */
    public static CloudInit userData(String userData) {
        return new CloudInit(userData, null, null);
    }

    /** This seed with the given meta-data instead of the default. */
    public CloudInit withMetaData(String metaData) {
        return new CloudInit(userData, Objects.requireNonNull(metaData, "metaData"), networkConfig);
    }

    /** This seed with a network-config document. */
    public CloudInit withNetworkConfig(String networkConfig) {
        return new CloudInit(userData, metaData, Objects.requireNonNull(networkConfig, "networkConfig"));
    }

    /**
     * The meta-data the guest reads for a VM with this id: the one given, or
     * {@code instance-id: <vmId>} and {@code local-hostname: <vmId>}.
     */
    public String metaDataFor(String vmId) {
        return metaData != null ? metaData : "instance-id: " + vmId + "\nlocal-hostname: " + vmId + "\n";
    }
}
