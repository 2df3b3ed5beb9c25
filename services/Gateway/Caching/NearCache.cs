using System.Collections.Concurrent;
using Keys.ApiKeys;
using Keys.V1;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Keys.Gateway.Caching;

/// <summary>A valid key as the gateway forwards it: the identity headers are built once, when it is cached.</summary>
public sealed class KnownKey(ValidateResponse response, ApiKeyType type, long cachedAtTicks)
{
    public ApiKeyType Type { get; } = type;

    public IReadOnlyList<string> Scopes { get; } = response.Scopes;

    public StringValues KeyId { get; } = response.KeyId;

    public StringValues KeyType { get; } = type.ToName();

    public StringValues ProjectId { get; } = response.ProjectId;

    public StringValues Environment { get; } = response.Environment;

    public StringValues KeyScopes { get; } = string.Join(',', response.Scopes);

    public long CachedAtTicks { get; } = cachedAtTicks;

    // Ticks, so that the hot path compares integers. MaxValue: never.
    public long ExpiresAtTicks { get; } = response.ExpiresAt?.ToDateTimeOffset().UtcTicks ?? long.MaxValue;

    public long RevokesAtTicks { get; } = response.RevokesAt?.ToDateTimeOffset().UtcTicks ?? long.MaxValue;
}

/// <summary>
/// Valid keys in gateway memory, by the exact key string, so that a hit costs a dictionary lookup and no hashing
/// (the raw key never leaves this process). Kept exact by KeyValidation's Watch stream; used only while that stream
/// is connected; bounded in count and age.
/// </summary>
public sealed class NearCache(IOptions<GatewayOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, KnownKey> _byKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<KeyHash, string> _keyByHash = new();
    private readonly long _maxAgeTicks = options.Value.NearCacheMaxAge.Ticks;
    private readonly int _maxEntries = options.Value.NearCacheMaxEntries;
    private long _sequence;
    private int _connected;

    /// <summary>The invalidation sequence the cache reflects.</summary>
    public long Sequence => Volatile.Read(ref _sequence);

    public bool IsConnected => Volatile.Read(ref _connected) == 1;

    public int Count => _byKey.Count;

    public bool TryGet(string key, out KnownKey known)
    {
        if (IsConnected && _byKey.TryGetValue(key, out known!) && time.GetUtcNow().UtcTicks - known.CachedAtTicks <= _maxAgeTicks)
        {
            return true;
        }

        known = null!;
        return false;
    }

    /// <summary>Caches a VALID answer, unless an invalidation newer than the answer has already been applied here.</summary>
    public void Add(string key, ValidateResponse response, ApiKeyType type)
    {
        if (!IsConnected || response.AsOfSequence < Sequence || _keyByHash.Count >= _maxEntries)
        {
            return;
        }

        var known = new KnownKey(response, type, time.GetUtcNow().UtcTicks);
        _keyByHash[KeyHash.Of(key)] = key;
        _byKey[key] = known;

        // The check again, after the insert: an invalidation applied meanwhile may have missed the new entry.
        if (response.AsOfSequence < Sequence)
        {
            _byKey.TryRemove(key, out _);
        }
    }

    public void Invalidate(ReadOnlySpan<byte> keyHash, long sequence)
    {
        Volatile.Write(ref _sequence, Math.Max(Sequence, sequence));
        if (_keyByHash.TryRemove(KeyHash.From(keyHash), out var key))
        {
            _byKey.TryRemove(key, out _);
        }
    }

    /// <summary>Connected to the Watch stream at <paramref name="sequence"/>: the cache may serve.</summary>
    public void Connected(long sequence)
    {
        Volatile.Write(ref _sequence, Math.Max(Sequence, sequence));
        Volatile.Write(ref _connected, 1);
    }

    /// <summary>The stream dropped or asked for a flush: forget everything, and serve nothing until reconnected.</summary>
    public void Flush(long? sequence = null, bool stayConnected = false)
    {
        if (!stayConnected)
        {
            Volatile.Write(ref _connected, 0);
        }

        _byKey.Clear();
        _keyByHash.Clear();
        if (sequence is { } s)
        {
            Volatile.Write(ref _sequence, s);
        }
    }

    /// <summary>Drops entries past their maximum age; called periodically.</summary>
    public void Sweep()
    {
        var now = time.GetUtcNow().UtcTicks;
        foreach (var (key, known) in _byKey)
        {
            if (now - known.CachedAtTicks > _maxAgeTicks)
            {
                _byKey.TryRemove(key, out _);
            }
        }

        foreach (var (hash, key) in _keyByHash)
        {
            if (!_byKey.ContainsKey(key))
            {
                _keyByHash.TryRemove(hash, out _);
            }
        }
    }
}
