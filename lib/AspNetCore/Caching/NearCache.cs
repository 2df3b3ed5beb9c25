using System.Collections.Concurrent;
using Keys.ApiKeys;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.Caching;

/// <summary>
/// Valid keys in this process's memory, by the exact key string, so that a hit costs a dictionary lookup and no hashing
/// (the raw key never leaves this process). Kept exact by KeyValidation's Watch stream; used only while that stream
/// is connected; bounded in count and age.
/// </summary>
/// <remarks>
/// Reads are lock-free. Every write (a miss's add, an invalidation, a flush, a sweep) takes one lock, so that the two
/// maps always change together: an invalidation always finds the key its hash names, and an answer older than an
/// invalidation already applied is never added. Writes are rare next to reads.
/// </remarks>
public sealed class NearCache(IOptions<ApiKeyValidationOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, ValidatedApiKey> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<KeyHash, string> _keyByHash = [];
    private readonly Lock _gate = new();
    private readonly long _maxAgeTicks = options.Value.NearCacheMaxAge.Ticks;
    private readonly int _maxEntries = options.Value.NearCacheMaxEntries;
    private long _sequence;
    private int _connected;

    /// <summary>The invalidation sequence the cache reflects.</summary>
    public long Sequence => Volatile.Read(ref _sequence);

    public bool IsConnected => Volatile.Read(ref _connected) == 1;

    /// <summary>Keys held now, for a gauge: read under the write lock, so a few times a minute at most.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _keyByHash.Count;
            }
        }
    }

    public bool TryGet(string key, out ValidatedApiKey known)
    {
        if (IsConnected && _byKey.TryGetValue(key, out known!) && time.GetUtcNow().UtcTicks - known.CachedAtTicks <= _maxAgeTicks)
        {
            return true;
        }

        known = null!;
        return false;
    }

    /// <summary>
    /// The key as requests use it; cached too, unless an invalidation newer than the answer has already been
    /// applied here (it may concern this key), the stream is down, or the cache is full.
    /// </summary>
    public ValidatedApiKey Add(string key, ValidateResponse response, ApiKeyType type)
    {
        var known = new ValidatedApiKey(response, type, time.GetUtcNow().UtcTicks);
        var hash = KeyHash.Of(key);
        lock (_gate)
        {
            if (IsConnected && response.AsOfSequence >= _sequence && _keyByHash.Count < _maxEntries)
            {
                _keyByHash[hash] = key;
                _byKey[key] = known;
            }
        }

        return known;
    }

    /// <summary>
    /// Applies the stream's next invalidation: a key it revokes stays cached and is refused from
    /// <paramref name="revokesAtTicks"/> on (no lookup needed); any other is dropped. False, changing nothing, when it
    /// is not the next in sequence: something was lost on the way, and the caller must flush and reconnect.
    /// </summary>
    public bool TryInvalidate(ReadOnlySpan<byte> keyHash, long sequence, long? revokesAtTicks = null)
    {
        var hash = KeyHash.From(keyHash);
        lock (_gate)
        {
            if (!IsConnected || sequence != _sequence + 1)
            {
                return false;
            }

            Volatile.Write(ref _sequence, sequence);
            if (revokesAtTicks is { } at && _keyByHash.TryGetValue(hash, out var revoked))
            {
                _byKey[revoked] = _byKey[revoked].WithRevokesAt(at);
            }
            else if (_keyByHash.Remove(hash, out var key))
            {
                _byKey.TryRemove(key, out _);
            }

            return true;
        }
    }

    /// <summary>
    /// A heartbeat: the stream has sent everything up to <paramref name="sequence"/>. The first one connects the cache
    /// at that sequence; after that, false unless it is exactly where the cache is (a gap the caller must treat as a
    /// loss: flush and reconnect).
    /// </summary>
    public bool TryHeartbeat(long sequence)
    {
        lock (_gate)
        {
            if (IsConnected)
            {
                return sequence == _sequence;
            }

            Volatile.Write(ref _sequence, sequence);
            Volatile.Write(ref _connected, 1);
            return true;
        }
    }

    /// <summary>KeyValidation asked for a flush at <paramref name="sequence"/>: forget everything, and go on serving from there.</summary>
    public void Reset(long sequence)
    {
        lock (_gate)
        {
            Clear();
            Volatile.Write(ref _sequence, sequence);
            Volatile.Write(ref _connected, 1);
        }
    }

    /// <summary>The stream dropped: forget everything, and serve nothing until it is back.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            Volatile.Write(ref _connected, 0);
            Clear();
        }
    }

    /// <summary>Drops entries past their maximum age; called periodically.</summary>
    public void Sweep()
    {
        var now = time.GetUtcNow().UtcTicks;
        // Under the lock throughout: a few milliseconds every ten seconds at the most (100,000 entries), paid by misses
        // and invalidations only.
        lock (_gate)
        {
            foreach (var (hash, key) in _keyByHash)
            {
                if (now - _byKey[key].CachedAtTicks > _maxAgeTicks)
                {
                    _keyByHash.Remove(hash);
                    _byKey.TryRemove(key, out _);
                }
            }
        }
    }

    private void Clear()
    {
        _byKey.Clear();
        _keyByHash.Clear();
    }
}
