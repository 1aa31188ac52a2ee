package io.horcrux;

/**
 * A listener's registration with a {@link VmManager}, returned by
 * {@link VmManager#subscribe(VmEventListener)}. Closing it unregisters the listener:
 * <pre>{@code
 * try (Subscription subscription = vms.subscribe(event -> log.info("{}", event))) {
 *     vms.start("web-1");
 * }
 * }</pre>
 *
 * <p>{@link #close()} throws nothing, checked or not, and is idempotent. A delivery already
 * under way when it is called may still reach the listener; none that begins afterwards does.
 * Closing the manager ends every subscription.
 */
public interface Subscription extends AutoCloseable {

    /** Unregisters the listener. Idempotent; throws nothing. */
    @Override
    void close();
}
