using System.Collections.Concurrent;
using Keys.ApiKeys;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Caching;

/// <summary>A looked-up answer: the record, or null when no key has the hash.</summary>
public sealed record CachedRecord(KeyRecord? Record, long LoadedAtTicks);

/// <summary>
/// Records in process memory, by key hash. Bounded in count, and every entry has a maximum age (shorter for "no such
/// key"), so even a missed invalidation cannot keep an answer alive for long.
/// </summary>
public sealed class LocalRecordCache(IOptions<KeyValidationOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<KeyHash, CachedRecord> _entries = new();
    private readonly long _maxAgeTicks = options.Value.MemoryMaxAge.Ticks;
    private readonly long _notFoundMaxAgeTicks = options.Value.NotFoundMaxAge.Ticks;
    private readonly int _maxEntries = options.Value.MemoryMaxEntries;
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool TryGet(KeyHash hash, out CachedRecord entry)
    {
        if (_entries.TryGetValue(hash, out entry!) && !IsExpired(entry, time.GetUtcNow().UtcTicks))
        {
            return true;
        }

        entry = null!;
        return false;
    }

    public void Set(KeyHash hash, KeyRecord? record)
    {
        var entry = new CachedRecord(record, time.GetUtcNow().UtcTicks);
        if (_entries.TryGetValue(hash, out _))
        {
            _entries[hash] = entry;
            return;
        }

        // Full: serve from Redis rather than grow; the sweep makes room as entries age out.
        if (Count >= _maxEntries)
        {
            return;
        }

        if (_entries.TryAdd(hash, entry))
        {
            Interlocked.Increment(ref _count);
        }
    }

    public void Remove(KeyHash hash)
    {
        if (_entries.TryRemove(hash, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    public void Clear()
    {
        foreach (var hash in _entries.Keys)
        {
            Remove(hash);
        }
    }

    /// <summary>Drops expired entries; called periodically.</summary>
    public void Sweep()
    {
        var now = time.GetUtcNow().UtcTicks;
        foreach (var (hash, entry) in _entries)
        {
            if (IsExpired(entry, now) && _entries.TryRemove(new KeyValuePair<KeyHash, CachedRecord>(hash, entry)))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    private bool IsExpired(CachedRecord entry, long now) =>
        now - entry.LoadedAtTicks > (entry.Record is null ? _notFoundMaxAgeTicks : _maxAgeTicks);
}
