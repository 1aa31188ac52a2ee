package io.horcrux;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.horcrux.model.CacheStats;
import io.horcrux.model.Vm;
import io.horcrux.spi.VmStore;
import java.util.Optional;

/**
 * The manager's reads by id: a Caffeine cache in front of the store, or the store alone when
 * the cache's size is 0. It is written through after every stored change, under the VM's
 * lock, so once a write returns no read sees an older version.
 */
final class VmCache {
    private final VmStore store;
    private final Cache<String, Vm> cache; // null when caching is off

    /** @param shared whether other hosts write the store too: then every read goes to the store */
    VmCache(VmStore store, VmManager.Builder b, boolean shared) {
        this.store = store;
        this.cache = b.cacheMaximumSize == 0 || shared ? null : build(b);
    }

    private static Cache<String, Vm> build(VmManager.Builder b) {
        Caffeine<Object, Object> caffeine = Caffeine.newBuilder().maximumSize(b.cacheMaximumSize);
        if (b.cacheExpireAfterAccess != null) {
            caffeine.expireAfterAccess(b.cacheExpireAfterAccess);
        }
        if (b.recordCacheStats) {
            caffeine.recordStats();
        }
        return caffeine.build();
    }

    /** The VM as stored; under the VM's lock the cache is exactly as fresh as the store. */
    Optional<Vm> find(String id) {
        if (cache == null) {
            return store.find(id);
        }
        return Optional.ofNullable(cache.get(id, key -> store.find(key).orElse(null)));
    }

    /** After a stored change; the caller holds the VM's lock. */
    void put(Vm vm) {
        if (cache != null) {
            cache.put(vm.id(), vm);
        }
    }

    /** After a stored delete; the caller holds the VM's lock. */
    void invalidate(String id) {
        if (cache != null) {
            cache.invalidate(id);
        }
    }

    CacheStats stats() {
        if (cache == null) {
            return new CacheStats(0, 0, 0);
        }
        var stats = cache.stats();
        return new CacheStats(stats.hitCount(), stats.missCount(), cache.estimatedSize());
    }
}
