using System.Security.Cryptography;
using Keys.ApiKeys;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Caching;

/// <summary>
/// Short leases in Redis, one per key hash, that let one KeyValidation replica of many look a missed key up in
/// KeyAdmin while the others wait for its answer to reach Redis: <c>keys:v1:lease:&lt;sha256&gt;</c>, holding a random
/// token of the holder's (never the key). A lease lasts as long as a lookup and its write-back may, so a holder that
/// dies costs the others that long at most; it is never a reason to refuse an answer.
/// </summary>
public sealed class RedisLookupLeases(IConnectionMultiplexer redis, IOptions<KeyValidationOptions> options)
{
    // Released only by the holder that took it: one that outlived its lease must not end its successor's.
    private static readonly LuaScript ReleaseIfHeld = LuaScript.Prepare(
        """
        if redis.call('GET', @leaseKey) == @token then return redis.call('DEL', @leaseKey) end
        return 0
        """);

    private readonly string _leasePrefix = options.Value.RedisKeyPrefix + "lease:";
    private readonly TimeSpan _leaseTime = options.Value.LookupTimeout + options.Value.RedisTimeout;

    /// <summary>Takes the lease on <paramref name="hash"/>; null when another replica holds it.</summary>
    public async Task<string?> TryAcquireAsync(KeyHash hash)
    {
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        return await redis.GetDatabase().StringSetAsync(LeaseKey(hash), token, _leaseTime, When.NotExists) ? token : null;
    }

    /// <summary>Whether anyone still holds the lease on <paramref name="hash"/>.</summary>
    public Task<bool> IsHeldAsync(KeyHash hash) => redis.GetDatabase().KeyExistsAsync(LeaseKey(hash));

    public Task ReleaseAsync(KeyHash hash, string token) =>
        redis.GetDatabase().ScriptEvaluateAsync(ReleaseIfHeld, new { leaseKey = LeaseKey(hash), token });

    private RedisKey LeaseKey(KeyHash hash) => _leasePrefix + Convert.ToHexStringLower(hash.ToArray());
}
