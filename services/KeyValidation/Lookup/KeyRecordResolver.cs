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
/// when it fails, KeyAdmin answers.
/// </summary>
/// <remarks>
/// Replicas that miss the same key at once share one KeyAdmin lookup too: after a Redis miss, a replica takes a short
/// lease on the hash in Redis (<see cref="RedisLookupLeases"/>); the holder looks the key up and writes the answer back
/// before it lets go, the others read it from Redis as it lands. A waiter asks KeyAdmin itself when the lease ends
/// with nothing written (its holder failed, died, or had its write refused) or after <c>LookupLeaseWait</c>: the lease
/// can delay an answer, never refuse one. Without Redis there is no lease, as there is no Redis read.
/// </remarks>
public sealed class KeyRecordResolver(
    LocalRecordCache local,
    RedisRecordStore redis,
    RedisSync redisSync,
    RedisLookupLeases leases,
    InvalidationFeed feed,
    KeyAdminInternalService.KeyAdminInternalServiceClient keyAdmin,
    ValidationMetrics metrics,
    IOptions<KeyValidationOptions> options)
{
    private readonly ConcurrentDictionary<KeyHash, Lazy<Task<KeyRecord?>>> _loads = new();
    private readonly TimeSpan _lookupTimeout = options.Value.LookupTimeout;
    private readonly TimeSpan _redisTimeout = options.Value.RedisTimeout;
    private readonly int _maxConcurrentLookups = options.Value.MaxConcurrentLookups;
    private readonly TimeSpan _leaseWait = options.Value.LookupLeaseWait;
    private int _lookupsInFlight;

    // Waiters poll Redis at 2, 4, 8 … ms, then this often: most lookups take a few milliseconds.
    private static readonly TimeSpan MaxLeasePollPause = TimeSpan.FromMilliseconds(50);

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

        string? lease = null;
        if (epoch is not null && redisSync.SyncedSequence >= appliedBefore)
        {
            try
            {
                var (found, cached) = await redis.TryGetAsync(hash, epoch).WaitAsync(_redisTimeout);
                if (found)
                {
                    return FromRedis(hash, cached, appliedBefore, clock);
                }

                if (_leaseWait > TimeSpan.Zero)
                {
                    lease = await leases.TryAcquireAsync(hash).WaitAsync(_redisTimeout);
                    if (lease is null)
                    {
                        (found, cached) = await AwaitHolderAsync(hash, epoch, appliedBefore);
                        if (found)
                        {
                            metrics.Leased("waited");
                            return FromRedis(hash, cached, appliedBefore, clock);
                        }

                        metrics.Leased("waited_in_vain");
                    }
                    else
                    {
                        // Another replica may have looked the key up, written it and let go between the miss above and
                        // this lease: read again before asking KeyAdmin.
                        (found, cached) = await redis.TryGetAsync(hash, epoch).WaitAsync(_redisTimeout);
                        if (found)
                        {
                            _ = ReleaseAsync(hash, lease);
                            metrics.Leased("waited");
                            return FromRedis(hash, cached, appliedBefore, clock);
                        }

                        metrics.Leased("won");
                    }
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // KeyAdmin answers instead, and nobody reads Redis until it is back.
                redisSync.ReportUnavailable();
                epoch = null;
            }
        }

        try
        {
            return await LookUpAsync(hash, trusted, epoch, lease is not null, clock);
        }
        finally
        {
            if (lease is not null)
            {
                // Not awaited: the answer is in Redis already (or was refused), and an unreleased lease only expires.
                _ = ReleaseAsync(hash, lease);
            }
        }
    }

    private KeyRecord? FromRedis(KeyHash hash, KeyRecord? cached, long appliedBefore, Stopwatch clock)
    {
        metrics.Loaded("redis", clock.Elapsed);
        metrics.Answered("redis");
        // Redis held every invalidation applied when the load began, and refuses a write older than any it holds since.
        feed.CacheLoaded(hash, cached, reflectsUpTo: appliedBefore);
        return cached;
    }

    /// <summary>
    /// Waits for the lease holder's answer to reach Redis. Found false: the lease ended with nothing written, the wait
    /// ran out, or Redis or the feed stopped being trustworthy; the caller asks KeyAdmin itself.
    /// </summary>
    private async Task<(bool Found, KeyRecord? Record)> AwaitHolderAsync(KeyHash hash, string epoch, long appliedBefore)
    {
        var waited = Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(2);
        while (waited.Elapsed < _leaseWait)
        {
            await Task.Delay(pause);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxLeasePollPause.Ticks));
            if (!feed.IsCurrent || redisSync.Epoch != epoch || redisSync.SyncedSequence < appliedBefore)
            {
                return (false, null);
            }

            // In this order on one connection: the holder writes before it releases, so a lease seen gone means its
            // write, if any, is seen by the read after.
            var held = leases.IsHeldAsync(hash);
            var read = redis.TryGetAsync(hash, epoch);
            var (found, record) = await read.WaitAsync(_redisTimeout);
            if (found)
            {
                return (true, record);
            }

            if (!await held.WaitAsync(_redisTimeout))
            {
                return (false, null);
            }
        }

        return (false, null);
    }

    private async Task<KeyRecord?> LookUpAsync(KeyHash hash, bool trusted, string? epoch, bool leased, Stopwatch clock)
    {
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
            // Redis refuses the write itself if an invalidation newer than this answer reached it from any replica, or if
            // its epoch has changed since the load began. Not awaited, unless other replicas wait for it under the lease.
            if (epoch is not null && leased)
            {
                await WriteBackAsync(hash, response.Record, response.AsOfSequence, epoch);
            }
            else if (epoch is not null)
            {
                _ = WriteBackAsync(hash, response.Record, response.AsOfSequence, epoch);
            }

            feed.CacheLoaded(hash, response.Record, reflectsUpTo: response.AsOfSequence);
        }

        return response.Record;
    }

    private async Task ReleaseAsync(KeyHash hash, string lease)
    {
        try
        {
            await leases.ReleaseAsync(hash, lease).WaitAsync(_redisTimeout);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            redisSync.ReportUnavailable();
        }
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
