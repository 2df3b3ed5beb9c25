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
    private readonly InvalidationSubscription _subscription;
    private readonly InvalidationHealthCheck _check;

    public InvalidationHealthCheckTests()
    {
        var options = Options.Create(new KeyValidationOptions());
        _feed = new InvalidationFeed(new LocalRecordCache(options, _time), options, _time);
        _subscription = new InvalidationSubscription(_time);
        // Redis and KeyAdmin are never reached here: the sync has not run, so Redis counts as unavailable.
        var redisSync = new RedisSync(
            new RedisRecordStore(null!, options), _feed, new KeyAdminChanges(null!, options), options, new BackgroundLoops(), NullLogger<RedisSync>.Instance);
        _check = new InvalidationHealthCheck(_feed, redisSync, _subscription, _time);
    }

    [Fact]
    public async Task ReplicaThatKeyAdminHasNotConfirmedIsUnhealthy()
    {
        ConfirmedAt(7);
        _time.Advance(TimeSpan.FromSeconds(4));

        await AssertHealthAsync(HealthStatus.Unhealthy, "Not current with KeyAdmin's changes (last confirmed");
    }

    [Fact]
    public async Task ReplicaNeverConfirmedIsUnhealthyAndSaysSo() =>
        await AssertHealthAsync(HealthStatus.Unhealthy, "never confirmed");

    [Fact]
    public async Task ReplicaCatchingUpAfterAGapIsDegraded()
    {
        ConfirmedAt(7);
        _feed.MarkUncertain();

        await AssertHealthAsync(HealthStatus.Degraded, "Catching up");
    }

    [Fact]
    public async Task CurrentReplicaWithoutRedisIsDegraded()
    {
        ConfirmedAt(7);

        await AssertHealthAsync(HealthStatus.Degraded, "Redis");
    }

    [Fact]
    public async Task ReplicaNotSubscribedToInvalidationsOnRedisIsDegradedSayingWhyAndForHowLong()
    {
        _subscription.Subscribed();
        _time.Advance(TimeSpan.FromMinutes(1));
        _subscription.Lost("Redis connection lost (SocketFailure)");
        _time.Advance(TimeSpan.FromSeconds(2.5));
        ConfirmedAt(7);

        // Every reason at once: here Redis is also unknown to the sync, which the test cannot reach.
        await AssertHealthAsync(HealthStatus.Degraded, "Not subscribed to invalidations on Redis (Redis connection lost (SocketFailure), for 2.5 s)");
        await AssertHealthAsync(HealthStatus.Degraded, "Redis is unavailable");
    }

    [Fact]
    public async Task SubscribedReplicaSaysNothingOfTheSubscription()
    {
        ConfirmedAt(7);
        _subscription.Subscribed();

        var result = await _check.CheckHealthAsync(new());

        Assert.DoesNotContain("subscribed", result.Description, StringComparison.OrdinalIgnoreCase);
    }

    private void ConfirmedAt(long sequence)
    {
        _feed.Flush(sequence);
        Assert.True(_feed.Confirm(sequence));
    }

    private async Task AssertHealthAsync(HealthStatus status, string reason)
    {
        var result = await _check.CheckHealthAsync(new());

        Assert.Equal(status, result.Status);
        Assert.Contains(reason, result.Description, StringComparison.Ordinal);
    }
}
