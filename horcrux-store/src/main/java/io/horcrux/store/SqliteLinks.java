package io.horcrux.store;

import io.horcrux.StoreException;
import io.horcrux.VmAlreadyExistsException;
import io.horcrux.VmNotFoundException;
import io.horcrux.model.Vm;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The {@code linked_template} column of {@code vms} (migration V5): which VMs are linked clones of
 * which template. Written once, in the transaction that inserts the clone; read through the
 * partial index {@code vms_linked_template}.
 */
final class SqliteLinks {
    private static final String CLONES = "SELECT id FROM vms WHERE linked_template = ? ORDER BY id";

    private final SqliteWriter writes;
    private final SqliteReader reads;
    private final String where;

    SqliteLinks(SqliteWriter writes, SqliteReader reads, String where) {
        this.writes = writes;
        this.reads = reads;
        this.where = where;
    }

    void insert(Vm clone, String templateId) {
        Objects.requireNonNull(clone, "clone");
        Objects.requireNonNull(templateId, "templateId");
        writes.inTransaction("inserting VM " + clone.id() + ", a linked clone of " + templateId, c -> {
            if (!exists(c, templateId)) {
                throw new VmNotFoundException(templateId);
            }
            if (exists(c, clone.id())) {
                throw new VmAlreadyExistsException(List.of(clone.id()));
            }
            try (PreparedStatement insert = c.prepareStatement(VmRows.INSERT);
                 PreparedStatement labels = c.prepareStatement(VmRows.INSERT_LABEL);
                 PreparedStatement link = c.prepareStatement("UPDATE vms SET linked_template = ? WHERE id = ?")) {
                VmRows.bindInsert(insert, clone);
                insert.executeUpdate();
                VmRows.addLabels(labels, clone);
                labels.executeBatch();
                link.setString(1, templateId);
                link.setString(2, clone.id());
                link.executeUpdate();
            }
            return null;
        });
    }

    List<String> clones(String templateId) {
        Objects.requireNonNull(templateId, "templateId");
        try (Connection c = reads.connection(); PreparedStatement ps = c.prepareStatement(CLONES)) {
            ps.setString(1, templateId);
            List<String> ids = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
            return List.copyOf(ids);
        } catch (SQLException e) {
            throw new StoreException(where + ": reading the linked clones of VM " + templateId + " failed ("
                    + e.getMessage() + ")", e);
        }
    }

    private static boolean exists(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM vms WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }
}
