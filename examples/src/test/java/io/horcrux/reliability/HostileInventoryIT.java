package io.horcrux.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.horcrux.DriverException;
import io.horcrux.InvalidVmSpecException;
import io.horcrux.VmManager;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.DiskSpec;
import io.horcrux.model.NicSpec;
import io.horcrux.model.Vm;
import io.horcrux.model.VmQuery;
import io.horcrux.model.VmSpec;
import io.horcrux.qemu.QemuDriver;
import io.horcrux.store.SqliteVmStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue item 4 through the whole stack: {@value #DEFAULT_CASES} hostile inputs by default
 * ({@code -Dhorcrux.reliability.hostile=N} for more), drawn with jqwik's generators, each put into
 * one field of an otherwise harmless spec (id, name, label key and value, disk name, format and
 * size, NIC name, MAC) and created through a manager on the SQLite store and real QEMU disks.
 * A refused input throws {@link InvalidVmSpecException} (or {@link DriverException} for a disk the
 * host cannot hold) and leaves no row and no file; an accepted one is stored verbatim, found by
 * its own label and by nothing else, and deleted without a trace. The schema is the same at the
 * end and the database passes {@code integrity_check}: no value was executed as SQL.
 */
class HostileInventoryIT {
    private static final Logger log = LoggerFactory.getLogger(HostileInventoryIT.class);
    static final int DEFAULT_CASES = 1500;
    private static final int CASES = Integer.getInteger("horcrux.reliability.hostile", DEFAULT_CASES);

    enum Field {
        ID, NAME, LABEL_KEY, LABEL_VALUE, DISK_NAME, DISK_SIZE, RAW_DISK_SIZE, NIC_NAME, MAC
    }

    record Case(Field field, String text, long number) {
    }

    private Path data;
    private QemuDriver driver;
    private VmManager vms;

    @BeforeEach
    void open() throws IOException {
        data = ReliabilityDirectories.create("hostile");
        driver = ManagerChild.driver(data);
        vms = VmManager.builder().store(ManagerChild.store(data)).driver(driver).build();
    }

    @AfterEach
    void close() throws IOException {
        vms.close();
        QemuProcesses.killAll(data);
        ReliabilityDirectories.delete(data);
    }

    static Arbitrary<String> hostile() {
        return Arbitraries.oneOf(
                Arbitraries.strings().all().ofMaxLength(300),
                Arbitraries.strings().withChars("abz09-_,=\n\u0000/.$;`'\"%*() :").ofMaxLength(70),
                Arbitraries.strings().withChars("abc019-").ofMinLength(1).ofMaxLength(20),
                Arbitraries.of("..", "../x", "a,b", "a=b", "$(id)", "`id`", "a;b", "a|b", "x\ny", "", " ",
                        "a".repeat(63), "a".repeat(64), "a".repeat(100_000), "'; DROP TABLE vms; --", "' OR '1'='1",
                        "\" OR 1=1 --", "%", "_", "a%", "k') OR ('1'='1", "x'||(SELECT sql FROM sqlite_master)||'",
                        "02:00:00:00:00:01", "03:00:00:00:00:01", "52:54:00:12:34:56,model=e1000", "\u0000",
                        "\u2028", "é", "\uD800"));
    }

    static Arbitrary<Long> sizes() {
        return Arbitraries.oneOf(
                Arbitraries.of(0L, -1L, -512L, 1L, 511L, 512L, 1L << 20, (1L << 20) + 1, 1L << 46, (1L << 46) + 512,
                        Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE - 511),
                Arbitraries.longs());
    }

    @Test
    void hostileInputIsRefusedWithoutATraceOrStoredVerbatimAndNeverExecuted() throws Exception {
        String schema = schema();
        Iterator<Case> cases = Combinators.combine(Arbitraries.of(Field.class), hostile(), sizes())
                .as(Case::new).sampleStream().limit(CASES).iterator();
        int refused = 0;
        int accepted = 0;
        List<Field> acceptedFields = new ArrayList<>();
        while (cases.hasNext()) {
            Case c = cases.next();
            VmSpec spec;
            try {
                spec = spec(c);
            } catch (InvalidVmSpecException e) {
                assertThat(e.violations()).as("%s", c).isNotEmpty();
                refused++;
                continue;
            }
            Vm created;
            try {
                created = vms.create(spec);
            } catch (InvalidVmSpecException | DriverException e) {
                assertNothingWritten(c);
                refused++;
                continue;
            }
            accepted++;
            acceptedFields.add(c.field());
            assertThat(created.spec()).as("%s", c).isEqualTo(spec);
            assertThat(vms.get(spec.id()).spec()).as("%s", c).isEqualTo(spec);
            String key = spec.labels().keySet().iterator().next();
            assertThat(vms.list(VmQuery.all().withLabel(key, spec.labels().get(key))).items())
                    .as("found by its label, %s", c).extracting(Vm::id).containsExactly(spec.id());
            assertThat(vms.list(VmQuery.all().withLabel(key, spec.labels().get(key) + "x")).items())
                    .as("found by no other value, %s", c).isEmpty();
            vms.delete(spec.id());
            assertThatThrownBy(() -> vms.get(spec.id())).isInstanceOf(VmNotFoundException.class);
            assertNothingWritten(c);
        }
        assertThat(schema()).as("schema after the hostile inputs").isEqualTo(schema);
        assertThat(ManagerCrashIT.integrityCheck(data.resolve("horcrux.db"))).isEqualTo("ok");
        log.info("{} hostile inputs: {} refused without a trace, {} accepted, stored verbatim and deleted;"
                + " accepted by field {}", CASES, refused, accepted,
                acceptedFields.stream().collect(java.util.stream.Collectors.groupingBy(f -> f,
                        java.util.TreeMap::new, java.util.stream.Collectors.counting())));
        assertThat(refused).isPositive();
        assertThat(accepted).isPositive();
    }

    private static VmSpec spec(Case c) {
        Field f = c.field();
        String v = c.text();
        DiskSpec disk = switch (f) {
            case DISK_NAME -> DiskSpec.qcow2(v, 1L << 20);
            case DISK_SIZE -> DiskSpec.qcow2("root", c.number());
            case RAW_DISK_SIZE -> DiskSpec.raw("root", c.number());
            default -> DiskSpec.qcow2("root", 1L << 20);
        };
        return VmSpec.builder()
                .id(f == Field.ID ? v : "vm-1")
                .name(f == Field.NAME ? v : "harmless")
                .label(f == Field.LABEL_KEY ? v : "k", f == Field.LABEL_VALUE ? v : "v")
                .disk(disk)
                .nic(NicSpec.user(f == Field.NIC_NAME ? v : "eth0").withMac(f == Field.MAC ? v : "52:54:00:00:00:01"))
                .build();
    }

    private void assertNothingWritten(Case c) throws IOException {
        assertThat(vms.count(VmQuery.all())).as("rows after %s", c).isZero();
        try (Stream<Path> left = Files.list(data.resolve("vms"))) {
            // The driver's claim on its state directory and its probe's answer are there from build(),
            // before any input.
            assertThat(left.filter(p -> !Set.of(".lock", ".probe").contains(p.getFileName().toString())).toList())
                    .as("files after %s", c).isEmpty();
        }
    }

    private String schema() throws Exception {
        try (Connection conn = DriverManager.getConnection("jdbc:sqlite:" + data.resolve("horcrux.db"));
             Statement s = conn.createStatement();
             ResultSet rs = s.executeQuery("SELECT type, name, sql FROM sqlite_master ORDER BY name")) {
            StringBuilder all = new StringBuilder();
            while (rs.next()) {
                all.append(rs.getString(1)).append(' ').append(rs.getString(2)).append(' ').append(rs.getString(3))
                        .append('\n');
            }
            return all.toString();
        }
    }
}
