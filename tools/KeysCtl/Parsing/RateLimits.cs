using System.Globalization;
using System.Text.Json.Nodes;
using Keys.V1;

namespace Keys.KeysCtl.Parsing;

/// <summary>A rate limit as typed: <c>N/window[,global]</c>, e.g. <c>100/1m</c> or <c>5000/1h,global</c>.</summary>
public sealed record RateLimitSpec(long Limit, long WindowSeconds, string Mode)
{
    /// <summary>The API's <c>RateLimit</c> JSON: <c>{"limit":100,"windowSeconds":60,"mode":"local"}</c>.</summary>
    public JsonObject ToJson() => new() { ["limit"] = Limit, ["windowSeconds"] = WindowSeconds, ["mode"] = Mode };
}

public static class RateLimits
{
    public const string Help = "N requests per window (90s, 1m, 1h, 1d), counted by each gateway alone, or by all of them together with ,global (e.g. 100/1m, 5000/1h,global)";

    /// <summary>
    /// The syntax only: a positive whole number of requests, a positive window, and the mode. The ranges (limit up to
    /// 1,000,000,000, window up to a day) are KeyAdmin's to enforce, so that its INVALID_RATE_LIMIT says what they are.
    /// </summary>
    public static bool TryParse(string? text, out RateLimitSpec limit)
    {
        limit = null!;
        if (text is null)
        {
            return false;
        }

        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var mode = parts.Length switch
        {
            1 => "local",
            2 when parts[1] is "global" or "local" => parts[1],
            _ => null,
        };
        var rate = parts[0].Split('/', StringSplitOptions.TrimEntries);
        if (mode is null || rate.Length != 2
            || !long.TryParse(rate[0], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count <= 0
            || !Durations.TryParse(rate[1], out var window) || window <= TimeSpan.Zero || window.TotalSeconds > int.MaxValue)
        {
            return false;
        }

        limit = new RateLimitSpec(count, (long)window.TotalSeconds, mode);
        return true;
    }

    /// <summary>A limit as the tables show it, in the syntax <see cref="TryParse"/> reads: <c>100/1m</c>, <c>5000/1h,global</c>.</summary>
    public static string Describe(RateLimit? limit) => limit is null
        ? string.Empty
        : $"{limit.Limit.ToString(CultureInfo.InvariantCulture)}/{Durations.Format(limit.WindowSeconds)}{(limit.Mode == "global" ? ",global" : "")}";
}
