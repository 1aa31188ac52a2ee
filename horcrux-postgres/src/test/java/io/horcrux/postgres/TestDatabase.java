package io.horcrux.postgres;

import io.horcrux.testkit.PostgresTestDatabase;

/** The testkit's database of one test class, with a store builder on it. */
final class TestDatabase extends PostgresTestDatabase {
    /** A builder on the class's database and a fresh schema. */
    PostgresVmStore.Builder freshStore(String prefix) {
        return PostgresVmStore.builder().jdbcUrl(jdbcUrl()).user(user()).password(password()).schema(newSchema(prefix));
    }
}
