package io.horcrux.model;

/**
 * What the manager's VM cache has done since the manager was built. All zero when the cache
 * is disabled or stats recording is off.
 *
 * @param hitCount  lookups answered from the cache
 * @param missCount lookups that went to the store
 * @param size      VMs held now (an estimate under concurrent change)
 */
public record CacheStats(long hitCount, long missCount, long size) {
    /** Hits over lookups, or 1.0 when there were no lookups (as Caffeine reports it). */
    public double hitRate() {
        long requests = hitCount + missCount;
        return requests == 0 ? 1.0 : (double) hitCount / requests;
    }
}
