using System.Globalization;

namespace Keys.AspNetCore.RateLimiting;

/// <summary>
/// The rate-limit headers of draft-ietf-httpapi-ratelimit-headers, as structured fields: <c>RateLimit-Policy:
/// "key";q=100;w=60</c> (the rule, built once per lookup) and <c>RateLimit: "key";r=42;t=17</c> (what is left of the
/// window, and the seconds until it resets).
/// </summary>
public static class RateLimitHeaders
{
    public const string PolicyHeader = "RateLimit-Policy";
    public const string RateLimitHeader = "RateLimit";

    /// <summary><c>"key";r=&lt;remaining&gt;;t=&lt;reset&gt;</c>, in one allocation.</summary>
    public static string Format(long remaining, int resetSeconds)
    {
        remaining = Math.Max(0, remaining);
        resetSeconds = Math.Max(0, resetSeconds);
        return string.Create(
            Prefix.Length + Digits(remaining) + 3 + Digits(resetSeconds),
            (remaining, resetSeconds),
            static (span, state) =>
            {
                Prefix.AsSpan().CopyTo(span);
                var at = Prefix.Length;
                state.remaining.TryFormat(span[at..], out var written, provider: CultureInfo.InvariantCulture);
                at += written;
                ";t=".AsSpan().CopyTo(span[at..]);
                at += 3;
                state.resetSeconds.TryFormat(span[at..], out _, provider: CultureInfo.InvariantCulture);
            });
    }

    private const string Prefix = "\"" + KeyRateLimit.PolicyName + "\";r=";

    private static int Digits(long value)
    {
        var digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }

        return digits;
    }
}
