package io.horcrux.testkit;

import io.horcrux.VmManager;
import io.horcrux.spi.VmDriver;
import io.horcrux.spi.VmStore;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that gives each test a fresh {@link VmManager} and closes it after the
 * test:
 *
 * <pre>{@code
 * class InventoryTest {
 *     @RegisterExtension
 *     static HorcruxExtension horcrux = HorcruxExtension.simulated();
 *
 *     @Test
 *     void createsAVm(VmManager vms) {                     // as a parameter ...
 *         vms.create(VmSpec.builder().id("web-1").build());
 *         assertThat(horcrux.manager().count(VmQuery.all())).isEqualTo(1);   // ... or through the extension
 *     }
 * }
 * }</pre>
 *
 * <p>{@link #simulated()} builds each manager over an {@link InMemoryVmStore} and a
 * {@link SimulatedDriver}; {@link #using(Supplier, Supplier)} over any store and driver, for
 * example a SQLite store in a temporary directory or a QEMU driver. Test methods (and
 * {@code @BeforeEach} / {@code @AfterEach} methods) may declare parameters of type
 * {@link VmManager}, and of the store's and the driver's types (for example
 * {@link SimulatedDriver}, to inject faults).
 *
 * <p>After each test the manager is closed (which closes its store and driver), and the test
 * fails if a thread named {@code horcrux-*} or a HikariCP pool thread started during the test
 * is still alive 10 s later: what a manager, a store or a driver left running.
 *
 * <p>Registered on a static field, the extension serves every test of the class; tests that run
 * in parallel each get their own manager, and {@link #manager()} answers the calling thread's.
 */
public final class HorcruxExtension implements BeforeEachCallback, AfterEachCallback, ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(HorcruxExtension.class);

    private final Supplier<? extends VmStore> stores;
    private final Supplier<? extends VmDriver> drivers;
    private final Consumer<VmManager.Builder> settings;
    private final ThreadLocal<Fixture> current = new ThreadLocal<>();

    private HorcruxExtension(Supplier<? extends VmStore> stores, Supplier<? extends VmDriver> drivers,
            Consumer<VmManager.Builder> settings) {
        this.stores = stores;
        this.drivers = drivers;
        this.settings = settings;
    }

    /** Each test gets a manager over a new {@link InMemoryVmStore} and a new {@link SimulatedDriver}. */
    public static HorcruxExtension simulated() {
        return using(InMemoryVmStore::create, SimulatedDriver::create);
    }

    /**
     * Each test gets a manager over a store and a driver from these suppliers, called once per
     * test. The manager closes both.
     *
     * @throws NullPointerException if either is null
     */
    public static HorcruxExtension using(Supplier<? extends VmStore> stores, Supplier<? extends VmDriver> drivers) {
        return new HorcruxExtension(Objects.requireNonNull(stores, "stores"), Objects.requireNonNull(drivers, "drivers"),
                builder -> { });
    }

    /**
     * A copy of this extension that applies {@code settings} to each manager's builder before it
     * builds, after the store and the driver are set (for example
     * {@code b -> b.cacheMaximumSize(0)}).
     *
     * @throws NullPointerException if {@code settings} is null
     */
    public HorcruxExtension withSettings(Consumer<VmManager.Builder> settings) {
        Objects.requireNonNull(settings, "settings");
        return new HorcruxExtension(stores, drivers, this.settings.andThen(settings));
    }

    /**
     * The current test's manager.
     *
     * @throws IllegalStateException outside a test (or its {@code @BeforeEach} and {@code @AfterEach} methods)
     */
    public VmManager manager() {
        return fixture().manager;
    }

    /**
     * The current test's store, which its manager owns.
     *
     * @throws IllegalStateException outside a test
     */
    public VmStore store() {
        return fixture().store;
    }

    /**
     * The current test's driver, which its manager owns; cast it (or declare a parameter of its
     * type) to reach, for example, the {@link SimulatedDriver}'s fault injection.
     *
     * @throws IllegalStateException outside a test
     */
    public VmDriver driver() {
        return fixture().driver;
    }

    private Fixture fixture() {
        Fixture fixture = current.get();
        if (fixture == null) {
            throw new IllegalStateException("no Horcrux manager here: only a test run with this extension has one");
        }
        return fixture;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        VmStore store = Objects.requireNonNull(stores.get(), "the store supplier returned null");
        VmDriver driver;
        VmManager manager;
        try {
            driver = Objects.requireNonNull(drivers.get(), "the driver supplier returned null");
        } catch (RuntimeException | Error e) {
            store.close();
            throw e;
        }
        try {
            VmManager.Builder builder = VmManager.builder().store(store).driver(driver);
            settings.accept(builder);
            manager = builder.build();
        } catch (RuntimeException | Error e) {
            closeQuietly(driver, e);
            closeQuietly(store, e);
            throw e;
        }
        Fixture fixture = new Fixture(store, driver, manager, before);
        context.getStore(NAMESPACE).put(Fixture.class, fixture);
        current.set(fixture);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        current.remove();
        Fixture fixture = context.getStore(NAMESPACE).remove(Fixture.class, Fixture.class);
        if (fixture == null) {
            return;
        }
        fixture.manager.close();
        List<String> left = ResourceHygiene.afterSettling(() -> ResourceHygiene.threadViolations(fixture.threadsBefore));
        if (!left.isEmpty()) {
            throw new AssertionError("the test left resources behind after its manager closed:\n  "
                    + String.join("\n  ", left));
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        if (type == VmManager.class) {
            return true;
        }
        Fixture fixture = context.getStore(NAMESPACE).get(Fixture.class, Fixture.class);
        return fixture != null && (isTheOne(type, VmStore.class, fixture.store) || isTheOne(type, VmDriver.class, fixture.driver));
    }

    private static boolean isTheOne(Class<?> type, Class<?> spi, Object instance) {
        return spi.isAssignableFrom(type) && type.isInstance(instance);
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Fixture fixture = context.getStore(NAMESPACE).get(Fixture.class, Fixture.class);
        if (fixture == null) {
            throw new org.junit.jupiter.api.extension.ParameterResolutionException(
                    "a Horcrux manager exists only for test methods and their @BeforeEach and @AfterEach methods");
        }
        Class<?> type = parameter.getParameter().getType();
        if (type == VmManager.class) {
            return fixture.manager;
        }
        return VmStore.class.isAssignableFrom(type) ? fixture.store : fixture.driver;
    }

    private static void closeQuietly(AutoCloseable resource, Throwable failure) {
        try {
            resource.close();
        } catch (Exception | Error e) {
            failure.addSuppressed(e);
        }
    }

    private record Fixture(VmStore store, VmDriver driver, VmManager manager, Set<Thread> threadsBefore) {
    }
}
