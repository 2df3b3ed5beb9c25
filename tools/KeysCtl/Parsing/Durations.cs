using System.Globalization;
using System.Text.RegularExpressions;

namespace Keys.KeysCtl.Parsing;

/// <summary>
/// Durations as people type them (<c>30d</c>, <c>12h</c>, <c>1h30m</c>, <c>2w</c>, <c>90s</c>) and expiries that are
/// either such a duration from now or an ISO-8601 instant.
/// </summary>
public static partial class Durations
{
    /// <summary>Longer than any expiry or grace period the API takes; it keeps the arithmetic far from overflow.</summary>
    private static readonly TimeSpan Longest = TimeSpan.FromDays(100 * 366);

    private static readonly (char Unit, long Seconds)[] Units = [('w', 7 * 86400), ('d', 86400), ('h', 3600), ('m', 60), ('s', 1)];

    public const string Help = "a duration (30d, 12h, 1h30m, 2w, 90s) or an ISO-8601 instant (2030-01-31T00:00:00Z)";

    /// <summary>A duration: one or more of a whole number and a unit (s, m, h, d, w). <c>0</c> alone is zero.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (text is null)
        {
            return false;
        }

        text = text.Trim();
        if (text == "0")
        {
            return true;
        }

        if (!DurationPattern().IsMatch(text))
        {
            return false;
        }

        var total = TimeSpan.Zero;
        foreach (Match part in PartPattern().Matches(text))
        {
            if (!long.TryParse(part.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var amount)
                || amount > Longest.TotalSeconds)
            {
                return false;
            }

            var unit = part.Groups[2].Value[0] switch
            {
                's' => TimeSpan.FromSeconds(1),
                'm' => TimeSpan.FromMinutes(1),
                'h' => TimeSpan.FromHours(1),
                'd' => TimeSpan.FromDays(1),
                _ => TimeSpan.FromDays(7),
            };
            if (amount > Longest / unit)
            {
                return false;
            }

            total += amount * unit;
            if (total > Longest)
            {
                return false;
            }
        }

        duration = total;
        return true;
    }

    /// <summary>A whole number of seconds as <see cref="TryParse"/> reads it, in the largest unit that divides it (3600: 1h).</summary>
    public static string Format(long seconds)
    {
        foreach (var (unit, length) in Units)
        {
            if (seconds % length == 0 && seconds >= length)
            {
                return $"{seconds / length}{unit}";
            }
        }

        return seconds == 0 ? "0" : $"{seconds}s";
    }

    /// <summary>
    /// When something expires: a positive duration from <paramref name="now"/>, or an instant (a date alone is midnight
    /// UTC; an instant without an offset is UTC). Whether it is in the future is the API's to say.
    /// </summary>
    public static bool TryParseExpiry(string? text, DateTimeOffset now, out DateTimeOffset expiry)
    {
        expiry = default;
        if (text is null)
        {
            return false;
        }

        text = text.Trim();
        if (TryParse(text, out var duration))
        {
            if (duration <= TimeSpan.Zero)
            {
                return false;
            }

            expiry = now + duration;
            return true;
        }

        // Only ISO-8601 shapes: "01/02/2030" means different days in different places.
        return InstantPattern().IsMatch(text) && DateTimeOffset.TryParse(
            text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out expiry);
    }

    [GeneratedRegex(@"^(\d+[smhdw])+$")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"(\d+)([smhdw])")]
    private static partial Regex PartPattern();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")]
    private static partial Regex InstantPattern();
}
