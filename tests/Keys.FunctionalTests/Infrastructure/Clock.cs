namespace Keys.FunctionalTests.Infrastructure;

/// <summary>Waits that the clock itself requires: a key's expiry or grace end is an instant, not a condition to poll.</summary>
public static class Clock
{
    /// <summary>
    /// Returns once this machine's clock has reached <paramref name="instant"/>. The services read the same clock, so a
    /// request sent afterwards is judged at or after it; a delay alone may wake a millisecond early.
    /// </summary>
    public static async Task PastAsync(DateTimeOffset instant)
    {
        for (var left = instant - DateTimeOffset.UtcNow; left >= TimeSpan.Zero; left = instant - DateTimeOffset.UtcNow)
        {
            await Task.Delay(left + TimeSpan.FromMilliseconds(1));
        }
    }
}
