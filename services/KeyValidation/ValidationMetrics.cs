using System.Diagnostics.Metrics;
using Keys.KeyValidation.Grpc;
using Keys.KeyValidation.Invalidation;
using Keys.V1;

namespace Keys.KeyValidation;

/// <summary>
/// Meter <c>Keys.Validation</c>: outcomes, where answers came from, how long loads took, and how this replica follows
/// KeyAdmin's invalidations and serves them to watchers. No key data in any tag. Listed with healthy values in
/// <c>docs/operations.md</c>.
/// </summary>
public sealed class ValidationMetrics
{
    public const string MeterName = "Keys.Validation";

    // Fine at the low end (pub/sub delivers in milliseconds) and still telling at the catch-up poll's second.
    private static readonly double[] LagBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000];

    private readonly Counter<long> _validations;
    private readonly Counter<long> _lookups;
    private readonly Histogram<double> _loadDuration;
    private readonly Histogram<double> _invalidationLag;
    private long _lookupsShed;
    private long _leasesWon;
    private long _leasesWaited;
    private long _leasesWaitedInVain;
    private long _budgetsGranted;
    private long _budgetsPartial;
    private long _budgetsExhausted;
    private long _budgetsUnavailable;

    public ValidationMetrics(IMeterFactory meterFactory, InvalidationFeed feed, InvalidationSubscription subscription, WatchAdmission admission)
    {
        var meter = meterFactory.Create(MeterName);
        _validations = meter.CreateCounter<long>("keys.validation.validations", description: "Validate calls by outcome");
        _lookups = meter.CreateCounter<long>("keys.validation.lookups", description: "Answers by the layer that gave them: memory, redis or key_admin");
        // Observable, so that it reads 0 from the start rather than appearing only once something was shed.
        meter.CreateObservableCounter(
            "keys.validation.lookups.shed", () => Volatile.Read(ref _lookupsShed), "{lookup}", "Lookups refused because MaxConcurrentLookups were in flight");
        meter.CreateObservableCounter(
            "keys.validation.lookup.leases",
            ObserveLeases,
            "{lease}",
            "Single flight across replicas after a Redis miss, by result: won (this replica looked up), waited (another's answer came from Redis) or waited_in_vain (looked up after all)");
        _loadDuration = meter.CreateHistogram<double>("keys.validation.load.duration", unit: "ms", description: "Time to load a record from Redis or KeyAdmin");
        _invalidationLag = meter.CreateHistogram(
            "keys.validation.invalidation.lag",
            "ms",
            "Time from KeyAdmin recording a key's change (outbox created_at) to this replica applying it, by source: pubsub or changes",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LagBuckets });
        meter.CreateObservableGauge(
            "keys.validation.invalidation.state",
            () => feed.IsCurrent ? 2 : feed.IsVouching ? 1 : 0,
            "{state}",
            "0: not vouching (Watch refused, caches bypassed), 1: catching up (caches bypassed), 2: current");
        meter.CreateObservableGauge(
            "keys.validation.invalidation.subscribed",
            () => subscription.IsSubscribed ? 1 : 0,
            "{state}",
            "1 while subscribed to KeyAdmin's invalidations on Redis pub/sub; 0: they arrive by the Changes poll alone");
        meter.CreateObservableUpDownCounter("keys.validation.watch.streams", () => admission.Open, "{stream}", "Open Watch streams");
        meter.CreateObservableCounter(
            "keys.validation.watch.flushes", () => feed.WatcherFlushes, "{flush}", "Watch clients so far behind that their backlog was replaced by a flush");
        // Observable, so that every result reads 0 from the start.
        meter.CreateObservableCounter(
            "keys.validation.rate_budget.draws",
            ObserveBudgetDraws,
            "{draw}",
            "AcquireRateBudget calls (global rate limits' leases), by result: granted, partial, exhausted or unavailable");
    }

    /// <summary>
    /// A draw on a global rate limit's counter: <paramref name="granted"/> of <paramref name="requested"/>, or null when
    /// Redis could not be asked.
    /// </summary>
    public void BudgetDrawn(long? granted, long requested)
    {
        if (granted is not { } g)
        {
            Interlocked.Increment(ref _budgetsUnavailable);
        }
        else if (g == 0)
        {
            Interlocked.Increment(ref _budgetsExhausted);
        }
        else if (g < requested)
        {
            Interlocked.Increment(ref _budgetsPartial);
        }
        else
        {
            Interlocked.Increment(ref _budgetsGranted);
        }
    }

    public void Validated(ValidationOutcome outcome) => _validations.Add(1, new KeyValuePair<string, object?>("outcome", OutcomeName(outcome)));

    public void Answered(string layer) => _lookups.Add(1, new KeyValuePair<string, object?>("layer", layer));

    /// <summary>A lookup lease after a Redis miss: <c>won</c>, <c>waited</c> or <c>waited_in_vain</c>.</summary>
    public void Leased(string result)
    {
        switch (result)
        {
            case "won":
                Interlocked.Increment(ref _leasesWon);
                break;
            case "waited":
                Interlocked.Increment(ref _leasesWaited);
                break;
            default:
                Interlocked.Increment(ref _leasesWaitedInVain);
                break;
        }
    }

    public void LookupShed() => Interlocked.Increment(ref _lookupsShed);

    public void Loaded(string source, TimeSpan elapsed) =>
        _loadDuration.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("source", source));

    /// <summary>
    /// An invalidation was applied here, arrived by <paramref name="source"/> (<c>pubsub</c> or <c>changes</c>); recorded
    /// when KeyAdmin said when it recorded it. Clocks apart, never below 0.
    /// </summary>
    public void InvalidationApplied(string source, KeyInvalidation invalidation, DateTimeOffset now)
    {
        if (invalidation.RecordedAt is { } recordedAt)
        {
            _invalidationLag.Record(
                Math.Max(0, (now - recordedAt.ToDateTimeOffset()).TotalMilliseconds), new KeyValuePair<string, object?>("source", source));
        }
    }

    private IEnumerable<Measurement<long>> ObserveLeases()
    {
        yield return new Measurement<long>(Volatile.Read(ref _leasesWon), new KeyValuePair<string, object?>("result", "won"));
        yield return new Measurement<long>(Volatile.Read(ref _leasesWaited), new KeyValuePair<string, object?>("result", "waited"));
        yield return new Measurement<long>(Volatile.Read(ref _leasesWaitedInVain), new KeyValuePair<string, object?>("result", "waited_in_vain"));
    }

    private IEnumerable<Measurement<long>> ObserveBudgetDraws()
    {
        yield return new Measurement<long>(Volatile.Read(ref _budgetsGranted), new KeyValuePair<string, object?>("result", "granted"));
        yield return new Measurement<long>(Volatile.Read(ref _budgetsPartial), new KeyValuePair<string, object?>("result", "partial"));
        yield return new Measurement<long>(Volatile.Read(ref _budgetsExhausted), new KeyValuePair<string, object?>("result", "exhausted"));
        yield return new Measurement<long>(Volatile.Read(ref _budgetsUnavailable), new KeyValuePair<string, object?>("result", "unavailable"));
    }

    private static string OutcomeName(ValidationOutcome outcome) => outcome switch
    {
        ValidationOutcome.Valid => "valid",
        ValidationOutcome.InvalidFormat => "invalid_format",
        ValidationOutcome.NotFound => "not_found",
        ValidationOutcome.Revoked => "revoked",
        ValidationOutcome.Expired => "expired",
        ValidationOutcome.Disabled => "disabled",
        _ => "unspecified",
    };
}
