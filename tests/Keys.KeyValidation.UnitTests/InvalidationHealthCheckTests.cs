using Keys.KeyValidation.Caching;
using Keys.KeyValidation.Invalidation;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.KeyValidation.UnitTests;

/// <summary>KeyValidation's health says why it cannot be trusted, so that the dashboard shows it.</summary>
public sealed class InvalidationHealthCheckTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly InvalidationFeed _feed;
    private readonly InvalidationHealthCheck _check;

    public InvalidationHealthCheckTests()
    {
        var options = Options.Create(new KeyValidationOptions());
        _feed = new InvalidationFeed(new LocalRecordCache(options, _time), options, _time);
        // Redis and KeyAdmin are never reached here: the sync has not run, so Redis counts as unavailable.
        var redisSync = new RedisSync(
            new RedisRecordStore(null!, options), _feed, new KeyAdminChanges(null!, options), options, new BackgroundLoops(), NullLogger<RedisSync>.Instance);
        _check = new InvalidationHealthCheck(_feed, redisSync);
    }

    [Fact]
    public async Task ReplicaThatKeyAdminHasNotConfirmedIsUnhealthy()
    {
        _feed.Flush(7);
        Assert.True(_feed.Confirm(7));
        _time.Advance(TimeSpan.FromSeconds(4));

        var result = await _check.CheckHealthAsync(new());

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("Not current", result.Description, StringComparison.Ordinal);
        Assert.Contains("last confirmed", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplicaNeverConfirmedIsUnhealthyAndSaysSo()
    {
        var result = await _check.CheckHealthAsync(new());

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("never confirmed", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplicaCatchingUpAfterAGapIsDegraded()
    {
        _feed.Flush(7);
        Assert.True(_feed.Confirm(7));
        _feed.MarkUncertain();

        var result = await _check.CheckHealthAsync(new());

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("Catching up", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CurrentReplicaWithoutRedisIsDegraded()
    {
        _feed.Flush(7);
        Assert.True(_feed.Confirm(7));

        var result = await _check.CheckHealthAsync(new());

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("Redis", result.Description, StringComparison.Ordinal);
    }
}
