using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Keys.ApiKeys;
using Keys.KeyValidation.Invalidation;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Caching;

/// <summary>
/// The record behind a key hash, from the nearest layer that can be trusted: process memory, then Redis, then
/// KeyAdmin (the owner of Postgres). Concurrent misses for one hash share one load. While invalidations may have been
/// missed (<see cref="InvalidationFeed.IsCurrent"/> is false) both caches are bypassed and nothing is written to them.
/// </summary>
public sealed class KeyRecordResolver(
    LocalRecordCache local,
    RedisRecordStore redis,
    InvalidationFeed feed,
    V1.KeyAdmin.KeyAdminClient keyAdmin,
    ValidationMetrics metrics,
    IOptions<KeyValidationOptions> options)
{
    private readonly ConcurrentDictionary<KeyHash, Lazy<Task<KeyRecord?>>> _loads = new();
    private readonly TimeSpan _lookupTimeout = options.Value.LookupTimeout;

    public ValueTask<KeyRecord?> GetAsync(KeyHash hash)
    {
        if (feed.IsCurrent && local.TryGet(hash, out var entry))
        {
            metrics.Answered("memory");
            return ValueTask.FromResult(entry.Record);
        }

        return new ValueTask<KeyRecord?>(LoadOnceAsync(hash));
    }

    private async Task<KeyRecord?> LoadOnceAsync(KeyHash hash)
    {
        var load = _loads.GetOrAdd(hash, h => new Lazy<Task<KeyRecord?>>(() => LoadAsync(h)));
        try
        {
            return await load.Value;
        }
        finally
        {
            _loads.TryRemove(new KeyValuePair<KeyHash, Lazy<Task<KeyRecord?>>>(hash, load));
        }
    }

    private async Task<KeyRecord?> LoadAsync(KeyHash hash)
    {
        // A load may only fill caches if it reflects every invalidation applied by the time it writes.
        var trusted = feed.IsCurrent;
        var appliedBefore = feed.AppliedSequence;
        var clock = Stopwatch.StartNew();

        if (trusted)
        {
            var (found, cached) = await redis.TryGetAsync(hash);
            if (found)
            {
                metrics.Loaded("redis", clock.Elapsed);
                metrics.Answered("redis");
                // This replica writes each invalidation to Redis before applying it, so Redis reflected every one
                // applied when the load began.
                feed.CacheLoaded(hash, cached, reflectsUpTo: appliedBefore);

                return cached;
            }
        }

        clock.Restart();
        var response = await keyAdmin.LookupKeyAsync(
            new LookupKeyRequest { KeyHash = ByteString.CopyFrom(hash.ToArray()) },
            deadline: DateTime.UtcNow + _lookupTimeout);
        metrics.Loaded("key_admin", clock.Elapsed);
        metrics.Answered("key_admin");

        if (trusted)
        {
            // Redis refuses the write itself if an invalidation newer than this answer reached it from any replica.
            await redis.WriteAsync(hash, response.Record, response.AsOfSequence);
            feed.CacheLoaded(hash, response.Record, reflectsUpTo: response.AsOfSequence);
        }

        return response.Record;
    }
}
