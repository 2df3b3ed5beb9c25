using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Keys.KeyValidation.Invalidation;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Lookup;

/// <summary>
/// The record behind a key hash, from the nearest layer that can be trusted: process memory, then Redis, then
/// KeyAdmin (the owner of Postgres). Concurrent misses for one hash share one load. While invalidations may have been
/// missed (<see cref="InvalidationFeed.IsCurrent"/> is false) both caches are bypassed and nothing is written to them.
/// Redis is read only when it holds every invalidation applied here, and within <c>RedisTimeout</c>; otherwise, or
/// when it fails, KeyAdmin answers. No lookup waits for a write to Redis.
/// </summary>
public sealed class KeyRecordResolver(
    LocalRecordCache local,
    RedisRecordStore redis,
    RedisSync redisSync,
    InvalidationFeed feed,
    KeyAdminInternalService.KeyAdminInternalServiceClient keyAdmin,
    ValidationMetrics metrics,
    IOptions<KeyValidationOptions> options)
{
    private readonly ConcurrentDictionary<KeyHash, Lazy<Task<KeyRecord?>>> _loads = new();
    private readonly TimeSpan _lookupTimeout = options.Value.LookupTimeout;
    private readonly TimeSpan _redisTimeout = options.Value.RedisTimeout;
    private readonly int _maxConcurrentLookups = options.Value.MaxConcurrentLookups;
    private int _lookupsInFlight;

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
        var epoch = trusted ? redisSync.Epoch : null;
        var clock = Stopwatch.StartNew();

        if (epoch is not null && redisSync.SyncedSequence >= appliedBefore)
        {
            try
            {
                var (found, cached) = await redis.TryGetAsync(hash, epoch).WaitAsync(_redisTimeout);
                if (found)
                {
                    metrics.Loaded("redis", clock.Elapsed);
                    metrics.Answered("redis");
                    // Redis held every invalidation applied when the load began.
                    feed.CacheLoaded(hash, cached, reflectsUpTo: appliedBefore);
                    return cached;
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // KeyAdmin answers instead, and nobody reads Redis until it is back.
                redisSync.ReportUnavailable();
                epoch = null;
            }
        }

        // Queueing behind KeyAdmin would only slow every caller down (and Postgres with it): past the cap, fail fast.
        if (Interlocked.Increment(ref _lookupsInFlight) > _maxConcurrentLookups)
        {
            Interlocked.Decrement(ref _lookupsInFlight);
            metrics.LookupShed();
            throw new LookupCapacityExceededException();
        }

        LookupKeyResponse response;
        try
        {
            clock.Restart();
            response = await keyAdmin.LookupKeyAsync(
                new LookupKeyRequest { KeyHash = ByteString.CopyFrom(hash.ToArray()) },
                deadline: DateTime.UtcNow + _lookupTimeout);
        }
        finally
        {
            Interlocked.Decrement(ref _lookupsInFlight);
        }

        metrics.Loaded("key_admin", clock.Elapsed);
        metrics.Answered("key_admin");

        if (trusted)
        {
            if (epoch is not null)
            {
                // Not awaited: Redis refuses the write itself if an invalidation newer than this answer reached it from
                // any replica, or if its epoch has changed since the load began.
                _ = WriteBackAsync(hash, response.Record, response.AsOfSequence, epoch);
            }

            feed.CacheLoaded(hash, response.Record, reflectsUpTo: response.AsOfSequence);
        }

        return response.Record;
    }

    private async Task WriteBackAsync(KeyHash hash, KeyRecord? record, long asOf, string epoch)
    {
        try
        {
            await redis.WriteAsync(hash, record, asOf, epoch).WaitAsync(_redisTimeout);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            redisSync.ReportUnavailable();
        }
    }
}

/// <summary>A lookup was refused because <c>MaxConcurrentLookups</c> were already in flight.</summary>
public sealed class LookupCapacityExceededException() : Exception("Too many key lookups at once.");
