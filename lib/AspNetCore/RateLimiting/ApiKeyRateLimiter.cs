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
public sealed class ApiKeyRateLimiter : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time;
    private readonly ITimer _sweep;

    public ApiKeyRateLimiter(
        KeyValidationService.KeyValidationServiceClient validation, TimeProvider time, IOptions<ApiKeyValidationOptions> options)
    {
        _time = time;
        Local = new LocalRateCounters();
        Global = new GlobalRateBudgets(validation, time, options.Value.ValidationTimeout, options.Value.RateLimitLeaseFraction);
        // Counters of windows that ended go, whether or not their keys come back: memory follows the keys in use.
        _sweep = time.CreateTimer(_ => Sweep(), null, SweepInterval, SweepInterval);
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
}
