using Microsoft.AspNetCore.Http;

namespace Keys.AspNetCore.RateLimiting;

/// <summary>
/// A rate-limited key's request, counted: passed (<see cref="Refusal"/> null, and the caller sets
/// <see cref="WriteHeaders"/> on its answer), refused with 429 <c>RATE_LIMITED</c> (whose refusal carries Retry-After
/// and the headers), or 503 when no budget can be leased.
/// </summary>
public readonly struct RateLimitDecision(KeyRateLimit rule, long remaining, int resetSeconds, ApiKeyRefusal? refusal)
{
    public KeyRateLimit Rule { get; } = rule;

    /// <summary>Requests left in the window (for a global limit, an estimate: other replicas spend too).</summary>
    public long Remaining { get; } = remaining;

    /// <summary>Seconds until the window ends, at least 1.</summary>
    public int ResetSeconds { get; } = resetSeconds;

    public ApiKeyRefusal? Refusal { get; } = refusal;

    public static RateLimitDecision Pass(KeyRateLimit rule, long remaining, int resetSeconds) => new(rule, remaining, resetSeconds, null);

    public static RateLimitDecision Limited(KeyRateLimit rule, int resetSeconds) => new(
        rule, 0, resetSeconds, ApiKeyRefusal.RateLimited.WithRateLimit(resetSeconds, rule.PolicyHeader, RateLimitHeaders.Format(0, resetSeconds)));

    public static RateLimitDecision Unavailable(KeyRateLimit rule, int resetSeconds) => new(rule, 0, resetSeconds, ApiKeyRefusal.ValidationUnavailable);

    /// <summary>The headers of a passed request's answer: the rule, and what is left of the window.</summary>
    public void WriteHeaders(IHeaderDictionary headers)
    {
        headers[RateLimitHeaders.PolicyHeader] = Rule.PolicyHeader;
        headers[RateLimitHeaders.RateLimitHeader] = RateLimitHeaders.Format(Remaining, ResetSeconds);
    }
}
