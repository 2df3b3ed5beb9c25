using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.RateLimiting;

/// <summary>What one draw on a key's shared counter gave: <see cref="Granted"/> of what was asked, and everything granted in the window so far.</summary>
public readonly record struct RateBudget(long Granted, long Used);

/// <summary>
/// The shared counters of <c>global</c> rate limits, in Redis: <c>keys:rl:&lt;key id&gt;:&lt;window seconds&gt;:&lt;window
/// start&gt;</c>, the number of requests granted in that window to every replica of every caller. Keyed by the key's
/// ID, never the key or its hash. A draw is one script, so concurrent callers can never be granted more than the limit
/// between them; the counter expires a minute after its window ends (by Redis' clock, so a caller's skew cannot make it
/// vanish early), and is outside the records' epoch: losing Redis' data loses at most the current window's count.
/// </summary>
public sealed class RateBudgetStore(IConnectionMultiplexer redis, IOptions<KeyValidationOptions> options)
{
    /// <summary>How long a window's counter outlives the window, for callers whose clocks run a little behind.</summary>
    public const int GraceSeconds = 60;

    // Grants min(requested, limit - used); creates the counter only when it grants, and (re)sets its expiry to a minute
    // past the window's end, never less than a minute nor more than the window and a minute.
    private static readonly LuaScript Draw = LuaScript.Prepare(
        """
        local used = tonumber(redis.call('GET', @counterKey) or '0')
        local limit = tonumber(@limit)
        local grant = limit - used
        if grant > tonumber(@requested) then grant = tonumber(@requested) end
        if grant < 0 then grant = 0 end
        if grant > 0 then
          used = redis.call('INCRBY', @counterKey, grant)
          local ttl = tonumber(@windowEnd) - tonumber(redis.call('TIME')[1]) + tonumber(@grace)
          local longest = tonumber(@windowSeconds) + tonumber(@grace)
          if ttl > longest then ttl = longest end
          if ttl < tonumber(@grace) then ttl = tonumber(@grace) end
          redis.call('EXPIRE', @counterKey, ttl)
        end
        return { grant, used }
        """);

    private readonly string _prefix = options.Value.RateLimitKeyPrefix;

    /// <summary>The counter's name: the key's ID, the window's length and its start; nothing secret.</summary>
    public RedisKey CounterKey(string keyId, int windowSeconds, long windowStart) =>
        string.Create(CultureInfo.InvariantCulture, $"{_prefix}{keyId}:{windowSeconds}:{windowStart}");

    /// <summary>Grants up to <paramref name="requested"/> of what is left of <paramref name="limit"/> in the window.</summary>
    public async Task<RateBudget> DrawAsync(string keyId, long limit, int windowSeconds, long windowStart, long requested)
    {
        var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(Draw, new
        {
            counterKey = CounterKey(keyId, windowSeconds, windowStart),
            limit,
            requested = Math.Min(requested, limit),
            windowEnd = windowStart + windowSeconds,
            windowSeconds,
            grace = GraceSeconds,
        }))!;
        return new RateBudget((long)result[0], (long)result[1]);
    }
}
