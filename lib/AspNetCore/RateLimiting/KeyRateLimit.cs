using System.Globalization;
using Keys.V1;

namespace Keys.AspNetCore.RateLimiting;

/// <summary>
/// A key's rate limit as the check applies it: at most <see cref="Limit"/> requests in each fixed window of
/// <see cref="WindowSeconds"/>, windows aligned to the Unix epoch, counted by each replica alone (local) or shared
/// through KeyValidation's leased budgets (global). Parsed once per lookup, with its <c>RateLimit-Policy</c> header.
/// </summary>
public sealed class KeyRateLimit
{
    /// <summary>The policy's name in the rate-limit headers.</summary>
    public const string PolicyName = "key";

    private KeyRateLimit(long limit, int windowSeconds, bool isGlobal)
    {
        Limit = limit;
        WindowSeconds = windowSeconds;
        IsGlobal = isGlobal;
        WindowTicks = windowSeconds * TimeSpan.TicksPerSecond;
        PolicyHeader = string.Create(CultureInfo.InvariantCulture, $"\"{PolicyName}\";q={limit};w={windowSeconds}");
    }

    public long Limit { get; }

    public int WindowSeconds { get; }

    /// <summary>Shared by every replica (leased from KeyValidation); otherwise each replica counts alone.</summary>
    public bool IsGlobal { get; }

    public long WindowTicks { get; }

    /// <summary><c>"key";q=&lt;limit&gt;;w=&lt;window&gt;</c>: the same for every answer under this rule.</summary>
    public string PolicyHeader { get; }

    /// <summary>
    /// The rule KeyValidation sent; null when there is none. KeyAdmin allows 1 to 1,000,000,000 requests per 1 to
    /// 86,400 s: anything else is read as closely as it can be, never as "no limit" (a limit below 0 allows nothing, a
    /// window below 1 s is 1 s); an unspecified mode is local, KeyAdmin's default.
    /// </summary>
    public static KeyRateLimit? From(RateLimitRule? rule) => rule is null
        ? null
        : new KeyRateLimit(Math.Max(0, rule.Limit), Math.Max(1, rule.WindowSeconds), rule.Mode == RateLimitMode.Global);

    public static KeyRateLimit Local(long limit, int windowSeconds) => new(limit, windowSeconds, isGlobal: false);

    public static KeyRateLimit Global(long limit, int windowSeconds) => new(limit, windowSeconds, isGlobal: true);

    /// <summary>The window that <paramref name="utcTicks"/> falls in.</summary>
    public RateLimitWindow WindowAt(long utcTicks)
    {
        var index = (utcTicks - DateTime.UnixEpoch.Ticks) / WindowTicks;
        return new RateLimitWindow(index, index * WindowSeconds, DateTime.UnixEpoch.Ticks + ((index + 1) * WindowTicks));
    }

    public override string ToString() => PolicyHeader + (IsGlobal ? " (global)" : " (local)");
}

/// <summary>One fixed window of a rule.</summary>
/// <param name="Index">Windows since the Unix epoch.</param>
/// <param name="StartSeconds">Its start, in Unix seconds: a multiple of the window's length.</param>
/// <param name="EndTicks">Its end (exclusive), in UTC ticks.</param>
public readonly record struct RateLimitWindow(long Index, long StartSeconds, long EndTicks)
{
    /// <summary>Whole seconds from <paramref name="utcTicks"/> to the window's end, rounded up: at least 1.</summary>
    public int SecondsToReset(long utcTicks) =>
        (int)Math.Clamp((EndTicks - utcTicks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond, 1, int.MaxValue);
}
