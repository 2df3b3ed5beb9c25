using System.Diagnostics.Metrics;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.AspNetCore.Invalidation;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// What the Watch stream tells an operator: health says whether the near cache is on and, when it is not, why and for
/// how long; the state gauge, the flush counter and the invalidation lag say the same in numbers. KeyValidation is a
/// fake that the test plays stream by stream; the clock that reasons and lags are read on is fake.
/// </summary>
public sealed class InvalidationWatcherTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeKeyValidation _validation = new();
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly NearCache _cache;
    private readonly WatchStatus _status;
    private readonly ApiKeyMetrics _metrics;
    private readonly WatchHealthCheck _health;
    private readonly BackgroundLoops _loops = new();
    private InvalidationWatcher? _watcher;

    public InvalidationWatcherTests()
    {
        _cache = new NearCache(Options.Create(new ApiKeyValidationOptions()), _time);
        _status = new WatchStatus(_time);
        _metrics = new ApiKeyMetrics(Meters, _cache, _status);
        _health = new WatchHealthCheck(_status, _cache, _time);
    }

    private IMeterFactory Meters => _services.GetRequiredService<IMeterFactory>();

    public async ValueTask DisposeAsync()
    {
        if (_watcher is not null)
        {
            await _watcher.StopAsync(CancellationToken.None);
            _watcher.Dispose();
        }

        _services.Dispose();
    }

    [Fact]
    public async Task HealthIsDegradedUntilKeyValidationsFirstHeartbeatAndHealthyFromThen()
    {
        var watch = await StartAsync();

        await AssertHealthAsync(HealthStatus.Degraded, "is being opened (not connected since the service started");
        Assert.Equal((int)WatchState.Connecting, ObservedState());

        watch.Heartbeat(5);
        await EventuallyAsync(() => _status.State == WatchState.Connected);

        await AssertHealthAsync(HealthStatus.Healthy, "at sequence 5");
        Assert.Equal((int)WatchState.Connected, ObservedState());
    }

    [Fact]
    public async Task LostStreamDegradesHealthNamingItsStatusAndHowLongTheNearCacheHasBeenOff()
    {
        var watch = await ConnectedAsync(5);

        watch.Fail(StatusCode.Unavailable);
        await _validation.NextWatchAsync();
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.False(_cache.IsConnected);
        await AssertHealthAsync(HealthStatus.Degraded, "the last stream was lost: Unavailable; near cache off for 2.0 s");
        Assert.Equal(1, Flushes("stream_lost"));
        Assert.Equal(0, Flushes("gap") + Flushes("silence") + Flushes("requested"));
    }

    [Fact]
    public async Task InvalidationRecordsHowLongAfterKeyAdminRecordedItThatTheNearCacheAppliedIt()
    {
        using var lag = new MetricCollector<double>(Meters, ApiKeyDefaults.DiagnosticsName, "keys.api_key.invalidation.lag");
        var watch = await ConnectedAsync(5);

        watch.Send(Invalidation(6, recordedAt: _time.GetUtcNow().AddMilliseconds(-40)));
        // One from a KeyAdmin that does not say when it recorded the change: applied, and not measured.
        watch.Send(Invalidation(7, recordedAt: null));
        await EventuallyAsync(() => _cache.Sequence == 7);

        var measured = Assert.Single(lag.GetMeasurementSnapshot());
        Assert.Equal(40, measured.Value);
    }

    [Fact]
    public async Task SkippedSequenceFlushesTheNearCacheCountedAsAGapAndIsNotMeasuredAsApplied()
    {
        using var lag = new MetricCollector<double>(Meters, ApiKeyDefaults.DiagnosticsName, "keys.api_key.invalidation.lag");
        var watch = await ConnectedAsync(5);

        watch.Send(Invalidation(7, recordedAt: _time.GetUtcNow()));
        await _validation.NextWatchAsync();

        Assert.Equal(1, Flushes("gap"));
        Assert.Empty(lag.GetMeasurementSnapshot());
        await AssertHealthAsync(HealthStatus.Degraded, "the last stream was lost: a sequence gap");
    }

    [Fact]
    public async Task SilentStreamIsDroppedCountedAsSilence()
    {
        var watch = await ConnectedAsync(5, silence: TimeSpan.FromMilliseconds(300));

        await _validation.NextWatchAsync();

        Assert.Equal(1, Flushes("silence"));
        await AssertHealthAsync(HealthStatus.Degraded, "the last stream was lost: silent for 0.3 s");
    }

    [Fact]
    public async Task FlushKeyValidationAsksForIsCountedAndTheNearCacheStaysOn()
    {
        var watch = await ConnectedAsync(5);

        watch.Send(new WatchEvent { Flush = new Flush { Sequence = 9 } });
        await EventuallyAsync(() => _cache.Sequence == 9);

        Assert.Equal(1, Flushes("requested"));
        Assert.Equal(WatchState.Connected, _status.State);
        await AssertHealthAsync(HealthStatus.Healthy, "at sequence 9");
    }

    [Fact]
    public async Task FailedStreamStopsCountingAsAFailingLoopOnceANewOneIsFollowedNotWhenThatOneEnds()
    {
        var watch = await ConnectedAsync(5);
        watch.Fail(StatusCode.Unavailable);
        var next = await _validation.NextWatchAsync();
        var (name, loop) = Assert.Single(_loops.All);
        Assert.Equal("Invalidation stream", name);
        Assert.NotNull(loop.FailingSince);

        next.Heartbeat(5);
        await EventuallyAsync(() => _status.State == WatchState.Connected);

        // The new stream runs on, and the pass with it: background-loops health is Healthy all the same.
        Assert.Null(loop.FailingSince);
    }

    private async Task<WatchCall> StartAsync(TimeSpan? silence = null)
    {
        var options = new ApiKeyValidationOptions();
        options.WatchSilenceTimeout = silence ?? options.WatchSilenceTimeout;
        _watcher = new InvalidationWatcher(
            _validation.Client, _cache, _status, _metrics, _time, Options.Create(options), _loops, NullLoggerFactory.Instance);
        await _watcher.StartAsync(CancellationToken.None);
        return await _validation.NextWatchAsync();
    }

    private async Task<WatchCall> ConnectedAsync(long sequence, TimeSpan? silence = null)
    {
        var watch = await StartAsync(silence);
        watch.Heartbeat(sequence);
        await EventuallyAsync(() => _status.State == WatchState.Connected);
        return watch;
    }

    private async Task AssertHealthAsync(HealthStatus status, string description)
    {
        var result = await _health.CheckHealthAsync(new());

        Assert.Equal(status, result.Status);
        Assert.Contains(description, result.Description, StringComparison.Ordinal);
    }

    private int ObservedState()
    {
        using var state = new MetricCollector<int>(Meters, ApiKeyDefaults.DiagnosticsName, "keys.api_key.watch.state");
        state.RecordObservableInstruments();
        return state.LastMeasurement!.Value;
    }

    private long Flushes(string reason)
    {
        using var flushes = new MetricCollector<long>(Meters, ApiKeyDefaults.DiagnosticsName, "keys.api_key.near_cache.flushes");
        flushes.RecordObservableInstruments();
        return flushes.GetMeasurementSnapshot().Single(m => (string?)m.Tags["reason"] == reason).Value;
    }

    private static WatchEvent Invalidation(long sequence, DateTimeOffset? recordedAt) => new()
    {
        Invalidation = new KeyInvalidation
        {
            Sequence = sequence,
            KeyHash = ByteString.CopyFrom(new byte[32]),
            RecordedAt = recordedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
        },
    };

    private static async Task EventuallyAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
