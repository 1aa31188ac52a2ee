package io.horcrux;

/**
 * The root of every exception Horcrux throws on purpose. Unchecked, like the exceptions of
 * the JDK's collections: a caller catches the specific subclass it can act on
 * ({@link VmNotFoundException}, {@link VmConflictException}, ...) or this root to catch all.
 *
 * <p>Misuse of the API that is a programming error rather than a fact about the inventory
 * (a {@code null} argument, a call after {@link VmManager#close()}) is reported with the
 * JDK's own {@link NullPointerException}, {@link IllegalArgumentException} and
 * {@link IllegalStateException}.
 */
public class HorcruxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HorcruxException(String message) {
        super(message);
    }

    public HorcruxException(String message, Throwable cause) {
        super(message, cause);
    }
}
