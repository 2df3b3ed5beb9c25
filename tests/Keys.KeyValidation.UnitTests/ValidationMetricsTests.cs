using System.Diagnostics.Metrics;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Keys.KeyValidation.Caching;
using Keys.KeyValidation.Grpc;
using Keys.KeyValidation.Invalidation;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.KeyValidation.UnitTests;

/// <summary>What KeyValidation's meter says about following KeyAdmin's invalidations.</summary>
public sealed class ValidationMetricsTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly InvalidationFeed _feed;
    private readonly InvalidationSubscription _subscription;
    private readonly ValidationMetrics _metrics;

    public ValidationMetricsTests()
    {
        var options = Options.Create(new KeyValidationOptions());
        _feed = new InvalidationFeed(new LocalRecordCache(options, _time), options, _time);
        _subscription = new InvalidationSubscription(_time);
        _metrics = new ValidationMetrics(Meters, _feed, _subscription, new WatchAdmission(options));
    }

    private IMeterFactory Meters => _services.GetRequiredService<IMeterFactory>();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void InvalidationLagIsFromWhenKeyAdminRecordedItBySourceAndNothingWhenItDoesNotSay()
    {
        using var lag = new MetricCollector<double>(Meters, ValidationMetrics.MeterName, "keys.validation.invalidation.lag");

        _metrics.InvalidationApplied("pubsub", Invalidation(recordedAt: _time.GetUtcNow().AddMilliseconds(-12)), _time.GetUtcNow());
        _metrics.InvalidationApplied("changes", Invalidation(recordedAt: null), _time.GetUtcNow());
        // A database clock ahead of this one is not a negative delay.
        _metrics.InvalidationApplied("changes", Invalidation(recordedAt: _time.GetUtcNow().AddMilliseconds(5)), _time.GetUtcNow());

        Assert.Equal(
            [(12.0, "pubsub"), (0.0, "changes")],
            lag.GetMeasurementSnapshot().Select(m => (m.Value, (string)m.Tags["source"]!)));
    }

    [Fact]
    public void InvalidationStateReadsNotVouchingThenCurrentThenCatchingUp()
    {
        Assert.Equal(0, State());

        _feed.Flush(3);
        Assert.True(_feed.Confirm(3));
        Assert.Equal(2, State());

        _feed.MarkUncertain();
        Assert.Equal(1, State());
    }

    [Fact]
    public void RateBudgetDrawsAreCountedByResultEachFromZero()
    {
        using var draws = new MetricCollector<long>(Meters, ValidationMetrics.MeterName, "keys.validation.rate_budget.draws");
        draws.RecordObservableInstruments();
        Assert.All(draws.GetMeasurementSnapshot(), m => Assert.Equal(0, m.Value));

        _metrics.BudgetDrawn(granted: 5, requested: 5);
        _metrics.BudgetDrawn(granted: 5, requested: 5);
        _metrics.BudgetDrawn(granted: 2, requested: 5);
        _metrics.BudgetDrawn(granted: 0, requested: 5);
        _metrics.BudgetDrawn(granted: null, requested: 5);
        draws.Clear();
        draws.RecordObservableInstruments();

        Assert.Equal(
            new Dictionary<string, long> { ["granted"] = 2, ["partial"] = 1, ["exhausted"] = 1, ["unavailable"] = 1 },
            draws.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["result"]!, m => m.Value));
    }

    [Fact]
    public void SubscriptionAndShedLookupsReadFromTheStartNotOnlyOnceSomethingHappened()
    {
        using var subscribed = new MetricCollector<int>(Meters, ValidationMetrics.MeterName, "keys.validation.invalidation.subscribed");
        using var shed = new MetricCollector<long>(Meters, ValidationMetrics.MeterName, "keys.validation.lookups.shed");

        subscribed.RecordObservableInstruments();
        shed.RecordObservableInstruments();
        Assert.Equal(0, subscribed.LastMeasurement?.Value);
        Assert.Equal(0, shed.LastMeasurement?.Value);

        _subscription.Subscribed();
        _metrics.LookupShed();
        subscribed.RecordObservableInstruments();
        shed.RecordObservableInstruments();
        Assert.Equal(1, subscribed.LastMeasurement?.Value);
        Assert.Equal(1, shed.LastMeasurement?.Value);
    }

    private int State()
    {
        using var state = new MetricCollector<int>(Meters, ValidationMetrics.MeterName, "keys.validation.invalidation.state");
        state.RecordObservableInstruments();
        return state.LastMeasurement!.Value;
    }

    private static KeyInvalidation Invalidation(DateTimeOffset? recordedAt) => new()
    {
        Sequence = 1,
        KeyHash = ByteString.CopyFrom(new byte[32]),
        RecordedAt = recordedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
    };
}
