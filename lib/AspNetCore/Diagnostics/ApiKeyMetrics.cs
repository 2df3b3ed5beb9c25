using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Invalidation;

namespace Keys.AspNetCore.Diagnostics;

/// <summary>
/// The library's meter and activity source, both named <see cref="ApiKeyDefaults.DiagnosticsName"/>. Keys' service
/// defaults export every <c>Keys.*</c> meter and this source; another service adds them to its own OpenTelemetry setup.
/// Every instrument is listed, with what a healthy value looks like, in <c>docs/operations.md</c>.
/// </summary>
/// <remarks>
/// The per-request counters are observable: a request increments a field, and the exporter reads the fields when it
/// collects. A counter with a listener would aggregate on every request, which costs more than the cached key check it
/// counts. No tag ever holds a key, a hash or an id: only fixed words and refusal codes.
/// </remarks>
public sealed class ApiKeyMetrics
{
    public static readonly ActivitySource ActivitySource = new(ApiKeyDefaults.DiagnosticsName);

    // Fine at the low end, where a healthy system is (a few milliseconds), and still telling at the fault bounds (1-5 s).
    private static readonly double[] LagBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000];

    private readonly ConcurrentDictionary<string, StrongBox> _refusals = new(StringComparer.Ordinal);
    private readonly Histogram<double> _invalidationLag;
    private readonly Lock _ratioGate = new();
    private long _passed;
    private long _hits;
    private long _misses;
    private long _ratioHits;
    private long _ratioMisses;
    private long _flushedOnGap;
    private long _flushedOnSilence;
    private long _flushedOnLoss;
    private long _flushedOnRequest;

    public ApiKeyMetrics(IMeterFactory meters, NearCache cache, WatchStatus watch)
    {
        var meter = meters.Create(ApiKeyDefaults.DiagnosticsName);
        meter.CreateObservableCounter(
            "keys.api_key.checks", ObserveChecks, "{check}", "Requests whose API key was checked, by outcome: ok, or the refusal's code.");
        meter.CreateObservableCounter(
            "keys.api_key.near_cache.lookups", ObserveLookups, "{lookup}", "Near-cache lookups of well-formed keys, by result: hit or miss.");
        meter.CreateObservableGauge(
            "keys.api_key.near_cache.hit_ratio", ObserveHitRatio, "1", "Share of near-cache lookups that hit, since the previous reading; none when there were no lookups.");
        meter.CreateObservableUpDownCounter(
            "keys.api_key.near_cache.entries", () => cache.Count, "{entry}", "Valid keys held in the near cache.");
        meter.CreateObservableCounter(
            "keys.api_key.near_cache.flushes", ObserveFlushes, "{flush}", "Times the near cache was emptied, by reason: gap, silence, stream_lost or requested.");
        meter.CreateObservableGauge(
            "keys.api_key.watch.state", () => (int)watch.State, "{state}", "The Watch stream: 0 down, 1 connecting, 2 connected (the near cache answers only at 2).");
        _invalidationLag = meter.CreateHistogram(
            "keys.api_key.invalidation.lag",
            "ms",
            "Time from KeyAdmin recording a key's change (outbox created_at) to this process's near cache applying it.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LagBuckets });
    }

    /// <summary>A request's key check ended: passed (null) or refused. Called once per request.</summary>
    public void Checked(ApiKeyRefusal? refusal)
    {
        if (refusal is null)
        {
            Interlocked.Increment(ref _passed);
        }
        else
        {
            // A handful of codes: the dictionary stops growing after the first refusal of each.
            Interlocked.Increment(ref _refusals.GetOrAdd(refusal.Error, static _ => new StrongBox()).Value);
        }
    }

    public void NearCacheHit() => Interlocked.Increment(ref _hits);

    public void NearCacheMiss() => Interlocked.Increment(ref _misses);

    /// <summary>The near cache forgot everything it held.</summary>
    public void NearCacheFlushed(FlushReason reason)
    {
        switch (reason)
        {
            case FlushReason.Gap:
                Interlocked.Increment(ref _flushedOnGap);
                break;
            case FlushReason.Silence:
                Interlocked.Increment(ref _flushedOnSilence);
                break;
            case FlushReason.Requested:
                Interlocked.Increment(ref _flushedOnRequest);
                break;
            default:
                Interlocked.Increment(ref _flushedOnLoss);
                break;
        }
    }

    /// <summary>An invalidation was applied, <paramref name="lag"/> after KeyAdmin recorded it (clocks apart: never below 0).</summary>
    public void InvalidationApplied(TimeSpan lag) => _invalidationLag.Record(Math.Max(0, lag.TotalMilliseconds));

    /// <summary>
    /// Checks so far by <c>outcome</c> (<c>ok</c> or the refusal's code): what <c>keys.api_key.checks</c> reports, for a
    /// host that counts its requests by the same outcomes (the gateway) without counting them a second time.
    /// </summary>
    public IEnumerable<Measurement<long>> ObserveChecks()
    {
        yield return new Measurement<long>(Volatile.Read(ref _passed), new KeyValuePair<string, object?>("outcome", "ok"));
        foreach (var (code, count) in _refusals)
        {
            yield return new Measurement<long>(Volatile.Read(ref count.Value), new KeyValuePair<string, object?>("outcome", code));
        }
    }

    private IEnumerable<Measurement<long>> ObserveLookups()
    {
        yield return new Measurement<long>(Volatile.Read(ref _hits), new KeyValuePair<string, object?>("result", "hit"));
        yield return new Measurement<long>(Volatile.Read(ref _misses), new KeyValuePair<string, object?>("result", "miss"));
    }

    // Over the lookups since the previous reading, not since the start: a ratio of lifetime totals would hardly move
    // when the cache stops working after hours of hits.
    private IEnumerable<Measurement<double>> ObserveHitRatio()
    {
        lock (_ratioGate)
        {
            var hits = Volatile.Read(ref _hits);
            var misses = Volatile.Read(ref _misses);
            var newHits = hits - _ratioHits;
            var lookups = newHits + (misses - _ratioMisses);
            _ratioHits = hits;
            _ratioMisses = misses;
            return lookups == 0 ? [] : [new Measurement<double>((double)newHits / lookups)];
        }
    }

    // Every reason, zeros included: a dashboard shows the series before the first flush, and an alert can use it.
    private IEnumerable<Measurement<long>> ObserveFlushes()
    {
        yield return new Measurement<long>(Volatile.Read(ref _flushedOnGap), new KeyValuePair<string, object?>("reason", "gap"));
        yield return new Measurement<long>(Volatile.Read(ref _flushedOnSilence), new KeyValuePair<string, object?>("reason", "silence"));
        yield return new Measurement<long>(Volatile.Read(ref _flushedOnLoss), new KeyValuePair<string, object?>("reason", "stream_lost"));
        yield return new Measurement<long>(Volatile.Read(ref _flushedOnRequest), new KeyValuePair<string, object?>("reason", "requested"));
    }

    private sealed class StrongBox
    {
        public long Value;
    }
}

/// <summary>Why the near cache was emptied: the <c>reason</c> of <c>keys.api_key.near_cache.flushes</c>.</summary>
public enum FlushReason
{
    /// <summary>The stream skipped a sequence number or a heartbeat disagreed: something was lost on the way.</summary>
    Gap,

    /// <summary>Nothing arrived for <c>WatchSilenceTimeout</c>: the stream was taken for dead.</summary>
    Silence,

    /// <summary>The stream failed or ended (KeyValidation stopping, refusing, unreachable).</summary>
    StreamLost,

    /// <summary>KeyValidation sent a flush: it lost track itself, or this client fell too far behind.</summary>
    Requested,
}
