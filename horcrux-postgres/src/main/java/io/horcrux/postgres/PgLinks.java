package io.horcrux.postgres;

import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Vm;
import io.horcrux.spi.HostLease;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The {@code linked_template} column of {@code vms} (migration V6): which VMs are linked clones of
 * which template. Written by the insert of the clone itself (one statement: no later update to
 * tell other hosts of), the template's row locked meanwhile; read through the partial index
 * {@code vms_linked_template}.
 */
final class PgLinks {
    private final Connections connections;
    private final PgRows rows;
    private final String where;
    private final Runnable ensureOpen;
    private final Runnable ensureWritable;
    private final Supplier<HostLease> token;
    private final String insert;
    private final String clones;
    private final String lockTemplate;

    PgLinks(Connections connections, PgRows rows, String where, Runnable ensureOpen, Runnable ensureWritable,
            Supplier<HostLease> token) {
        this.connections = connections;
        this.rows = rows;
        this.where = where;
        this.ensureOpen = ensureOpen;
        this.ensureWritable = ensureWritable;
        this.token = token;
        String plain = rows.insert;
        int values = plain.lastIndexOf("?)");
        this.insert = plain.substring(0, values).replace(" spec_json)", " spec_json, linked_template)") + "?, ?)";
        this.clones = "SELECT id FROM " + rows.schema + ".vms WHERE linked_template = ? ORDER BY id";
        this.lockTemplate = "SELECT 1 FROM " + rows.schema + ".vms WHERE id = ? FOR SHARE";
    }

    void insert(Vm clone, String templateId) {
        Objects.requireNonNull(clone, "clone");
        Objects.requireNonNull(templateId, "templateId");
        ensureWritable.run();
        HostLease writer = token.get();
        try (Connection c = connections.getConnection()) {
            boolean inserted = PgWriter.inTransaction(c, () -> {
                try (PreparedStatement lock = c.prepareStatement(lockTemplate)) {
                    lock.setString(1, templateId);
                    try (ResultSet rs = lock.executeQuery()) {
                        if (!rs.next()) {
                            throw new VmNotFoundException(templateId);
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement(insert);
                     PreparedStatement labels = c.prepareStatement(rows.insertLabel)) {
                    PgRows.bindInsert(ps, clone, writer);
                    ps.setString(15, templateId);
                    ps.executeUpdate();
                    PgRows.addLabels(labels, clone);
                    labels.executeBatch();
                    return true;
                } catch (SQLException e) {
                    if (PgErrors.isUniqueViolation(e)) {
                        return false;
                    }
                    throw e;
                }
            });
            if (!inserted) {
                throw new VmAlreadyExistsException(List.of(clone.id()));
            }
        } catch (SQLException e) {
            throw PgErrors.failure(where, "inserting VM " + clone.id() + ", a linked clone of " + templateId, e);
        }
    }

    List<String> clones(String templateId) {
        Objects.requireNonNull(templateId, "templateId");
        ensureOpen.run();
        try (Connection c = connections.getConnection(); PreparedStatement ps = c.prepareStatement(clones)) {
            ps.setString(1, templateId);
            List<String> ids = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
            return List.copyOf(ids);
        } catch (SQLException e) {
            throw PgErrors.failure(where, "reading the linked clones of VM " + templateId, e);
        }
    }
}
