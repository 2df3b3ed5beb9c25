using System.Diagnostics.Metrics;
using Keys.ApiKeys;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.AspNetCore.Invalidation;
using Keys.AspNetCore.RateLimiting;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>The gauges read what an operator needs now, not a lifetime average: the near cache, the rate-limited keys held.</summary>
public sealed class ApiKeyMetricsTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly NearCache _cache;
    private readonly ApiKeyMetrics _metrics;

    public ApiKeyMetricsTests()
    {
        _cache = new NearCache(Options.Create(new ApiKeyValidationOptions()), _time);
        _metrics = new ApiKeyMetrics(Meters, _cache, new WatchStatus(_time));
    }

    private IMeterFactory Meters => _services.GetRequiredService<IMeterFactory>();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void HitRatioIsTheShareOfHitsSinceThePreviousReadingAndNothingWhenThereWereNoLookups()
    {
        using var ratio = new MetricCollector<double>(Meters, ApiKeyDefaults.DiagnosticsName, "keys.api_key.near_cache.hit_ratio");
        for (var i = 0; i < 3; i++)
        {
            _metrics.NearCacheHit();
        }

        _metrics.NearCacheMiss();
        ratio.RecordObservableInstruments();
        Assert.Equal(0.75, ratio.LastMeasurement?.Value);

        ratio.Clear();
        ratio.RecordObservableInstruments();
        Assert.Empty(ratio.GetMeasurementSnapshot());

        // A cache that stops hitting after many hits reads 0 at once, not an average that hardly moves.
        _metrics.NearCacheMiss();
        ratio.RecordObservableInstruments();
        Assert.Equal(0, ratio.LastMeasurement?.Value);
    }

    [Fact]
    public void EntriesAreTheKeysTheNearCacheHolds()
    {
        using var entries = new MetricCollector<int>(Meters, ApiKeyDefaults.DiagnosticsName, "keys.api_key.near_cache.entries");
        Assert.True(_cache.TryHeartbeat(1));
        _cache.Add(KeyString.Generate(ApiKeyType.Secret), new ValidateResponse { Outcome = ValidationOutcome.Valid, AsOfSequence = 1 }, ApiKeyType.Secret);
        _cache.Add(KeyString.Generate(ApiKeyType.Publishable), new ValidateResponse { Outcome = ValidationOutcome.Valid, AsOfSequence = 1 }, ApiKeyType.Publishable);

        entries.RecordObservableInstruments();

        Assert.Equal(2, entries.LastMeasurement?.Value);
    }

    [Fact]
    public async Task RateLimitedKeysHeldAreCountedByModeUntilTheirWindowEnds()
    {
        using var keys = new MetricCollector<int>(Meters, ApiKeyDefaults.DiagnosticsName, "keys.api_key.rate_limit.keys");
        var validation = new FakeKeyValidation
        {
            OnAcquire = (request, _) => Task.FromResult(new AcquireRateBudgetResponse { Granted = request.Requested, Used = request.Requested }),
        };
        using var limiter = new ApiKeyRateLimiter(validation.Client, _time, Options.Create(new ApiKeyValidationOptions()), Meters);

        // The fake clock starts on a whole minute: ten seconds later the 1 s window has ended, the 60 s ones have not.
        await limiter.AcquireAsync(Limited("key_minute00000000000000a", RateLimitMode.Local, 60), default);
        await limiter.AcquireAsync(Limited("key_minute00000000000000c", RateLimitMode.Local, 60), default);
        await limiter.AcquireAsync(Limited("key_second00000000000000a", RateLimitMode.Local, 1), default);
        await limiter.AcquireAsync(Limited("key_minute00000000000000b", RateLimitMode.Global, 60), default);
        await limiter.AcquireAsync(Limited("key_second00000000000000b", RateLimitMode.Global, 1), default);
        keys.RecordObservableInstruments();
        Assert.Equal(new Dictionary<string, int> { ["local"] = 3, ["global"] = 2 }, ByMode(keys));

        // The limiter's own sweep, every 10 s.
        _time.Advance(TimeSpan.FromSeconds(10));
        keys.Clear();
        keys.RecordObservableInstruments();
        Assert.Equal(new Dictionary<string, int> { ["local"] = 2, ["global"] = 1 }, ByMode(keys));
    }

    private ValidatedApiKey Limited(string keyId, RateLimitMode mode, int windowSeconds) => new(
        new ValidateResponse
        {
            Outcome = ValidationOutcome.Valid,
            KeyId = keyId,
            RateLimit = new RateLimitRule { Limit = 100, WindowSeconds = windowSeconds, Mode = mode },
        },
        ApiKeyType.Secret,
        _time.GetUtcNow().UtcTicks);

    private static Dictionary<string, int> ByMode(MetricCollector<int> collector) =>
        collector.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["mode"]!, m => m.Value);
}
