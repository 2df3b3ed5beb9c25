using System.Diagnostics.Metrics;
using Keys.ApiKeys;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.AspNetCore.Invalidation;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>The near cache's gauges read what an operator needs now, not a lifetime average.</summary>
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
}
