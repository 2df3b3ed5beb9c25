using System.Collections.Concurrent;
using Keys.ApiKeys;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Caching;

/// <summary>A looked-up answer: the record, or null when no key has the hash.</summary>
public sealed record CachedRecord(KeyRecord? Record, long LoadedAtTicks);

/// <summary>
/// Answers in process memory, by key hash. Records of existing keys and "no such key" answers are kept apart, each
/// bounded in count: a flood of unknown keys fills only its own part and can never take the place of a real key.
/// Every entry has a maximum age (shorter for "no such key"), so even a missed invalidation cannot keep an answer alive
/// for long.
/// </summary>
public sealed class LocalRecordCache(IOptions<KeyValidationOptions> options, TimeProvider time)
{
    private readonly Part _records = new(options.Value.MemoryMaxEntries, options.Value.MemoryMaxAge.Ticks);
    private readonly Part _notFound = new(options.Value.NotFoundMaxEntries, options.Value.NotFoundMaxAge.Ticks);

    /// <summary>Records of existing keys held.</summary>
    public int Count => _records.Count;

    /// <summary>"No such key" answers held.</summary>
    public int NotFoundCount => _notFound.Count;

    public bool TryGet(KeyHash hash, out CachedRecord entry)
    {
        var now = time.GetUtcNow().UtcTicks;
        return _records.TryGet(hash, now, out entry) || _notFound.TryGet(hash, now, out entry);
    }

    public void Set(KeyHash hash, KeyRecord? record)
    {
        var entry = new CachedRecord(record, time.GetUtcNow().UtcTicks);
        if (record is null)
        {
            _records.Remove(hash);
            _notFound.Set(hash, entry);
        }
        else
        {
            _notFound.Remove(hash);
            _records.Set(hash, entry);
        }
    }

    public void Remove(KeyHash hash)
    {
        _records.Remove(hash);
        _notFound.Remove(hash);
    }

    public void Clear()
    {
        _records.Clear();
        _notFound.Clear();
    }

    /// <summary>Drops expired entries; called periodically.</summary>
    public void Sweep()
    {
        var now = time.GetUtcNow().UtcTicks;
        _records.Sweep(now);
        _notFound.Sweep(now);
    }

    private sealed class Part(int maxEntries, long maxAgeTicks)
    {
        private readonly ConcurrentDictionary<KeyHash, CachedRecord> _entries = new();
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public bool TryGet(KeyHash hash, long now, out CachedRecord entry)
        {
            if (_entries.TryGetValue(hash, out entry!) && now - entry.LoadedAtTicks <= maxAgeTicks)
            {
                return true;
            }

            entry = null!;
            return false;
        }

        public void Set(KeyHash hash, CachedRecord entry)
        {
            if (_entries.TryGetValue(hash, out _))
            {
                _entries[hash] = entry;
                return;
            }

            // Full: serve from Redis rather than grow; the sweep makes room as entries age out.
            if (Count >= maxEntries)
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

        public void Sweep(long now)
        {
            foreach (var (hash, entry) in _entries)
            {
                if (now - entry.LoadedAtTicks > maxAgeTicks && _entries.TryRemove(new KeyValuePair<KeyHash, CachedRecord>(hash, entry)))
                {
                    Interlocked.Decrement(ref _count);
                }
            }
        }
    }
}
