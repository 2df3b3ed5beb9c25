using System.Diagnostics.Metrics;
using Keys.AspNetCore.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.RateLimiting;

/// <summary>
/// Enforces keys' rate limits, counted by key ID (never the key), in fixed windows aligned to the Unix epoch: a
/// <c>local</c> limit in this process's memory alone (<see cref="LocalRateCounters"/>), a <c>global</c> one from budgets
/// leased from KeyValidation (<see cref="GlobalRateBudgets"/>). A key without a limit never reaches it: callers check
/// <see cref="ValidatedApiKey.RateLimit"/> first. Runs after the key is found valid and allowed from where it is used.
/// </summary>
/// <remarks>
/// Memory: one entry per rate-limited key used in its current window (measured: about 125 B for a local counter and
/// 230 B for a global budget, plus the key ID's 80 B once the near cache no longer holds it), dropped within
/// <see cref="SweepInterval"/> of the window's end. There is no cap and no eviction: a key refused for want of room
/// would be refused for nothing it did, and one forgotten would start its window again. A million keys used within one
/// window hold 125-310 MB; gauge <c>keys.api_key.rate_limit.keys</c> (meter <c>Keys.AspNetCore</c>) counts them.
/// </remarks>
public sealed class ApiKeyRateLimiter : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time;
    private readonly ITimer _sweep;

    public ApiKeyRateLimiter(
        KeyValidationService.KeyValidationServiceClient validation,
        TimeProvider time,
        IOptions<ApiKeyValidationOptions> options,
        IMeterFactory meters)
    {
        _time = time;
        Local = new LocalRateCounters();
        Global = new GlobalRateBudgets(validation, time, options.Value.ValidationTimeout, options.Value.RateLimitLeaseFraction);
        // Counters of windows that ended go, whether or not their keys come back: memory follows the keys in use.
        _sweep = time.CreateTimer(_ => Sweep(), null, SweepInterval, SweepInterval);
        // On the library's meter (the factory hands out one Meter per name), listed with ApiKeyMetrics' instruments.
        meters.Create(ApiKeyDefaults.DiagnosticsName).CreateObservableUpDownCounter(
            "keys.api_key.rate_limit.keys",
            ObserveKeys,
            "{key}",
            "Rate-limited keys this process holds a count or a leased budget for, by mode: local or global (each until its window ends).");
    }

    public LocalRateCounters Local { get; }

    public GlobalRateBudgets Global { get; }

    /// <summary>
    /// Counts one request of <paramref name="key"/>, which has a rate limit. A local limit completes at once; a global
    /// one too, unless this replica has no budget left for the window and must wait for the lease in flight.
    /// </summary>
    public ValueTask<RateLimitDecision> AcquireAsync(ValidatedApiKey key, CancellationToken aborted)
    {
        var rule = key.RateLimit ?? throw new ArgumentException("The key has no rate limit.", nameof(key));
        if (rule.IsGlobal)
        {
            return Global.AcquireAsync(key.KeyId, rule, aborted);
        }

        var now = _time.GetUtcNow().UtcTicks;
        var window = rule.WindowAt(now);
        var reset = window.SecondsToReset(now);
        return new(Local.TryAcquire(key.KeyId, rule, now, out var remaining)
            ? RateLimitDecision.Pass(rule, remaining, reset)
            : RateLimitDecision.Limited(rule, reset));
    }

    public void Sweep()
    {
        var now = _time.GetUtcNow().UtcTicks;
        Local.Sweep(now);
        Global.Sweep(now);
    }

    public void Dispose() => _sweep.Dispose();

    private IEnumerable<Measurement<int>> ObserveKeys()
    {
        yield return new Measurement<int>(Local.Count, new KeyValuePair<string, object?>("mode", "local"));
        yield return new Measurement<int>(Global.Count, new KeyValuePair<string, object?>("mode", "global"));
    }
}
