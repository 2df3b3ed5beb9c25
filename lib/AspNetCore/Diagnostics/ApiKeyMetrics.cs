using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Keys.AspNetCore.Diagnostics;

/// <summary>
/// The library's meter and activity source, both named <see cref="ApiKeyDefaults.DiagnosticsName"/>. Keys' service
/// defaults export every <c>Keys.*</c> meter and this source; another service adds them to its own OpenTelemetry setup.
/// </summary>
/// <remarks>
/// The counters are observable: a request increments a field, and the exporter reads the fields when it collects. A
/// counter with a listener would aggregate on every request, which costs more than the cached key check it counts.
/// </remarks>
public sealed class ApiKeyMetrics
{
    public static readonly ActivitySource ActivitySource = new(ApiKeyDefaults.DiagnosticsName);

    private readonly ConcurrentDictionary<string, StrongBox> _refusals = new(StringComparer.Ordinal);
    private long _passed;
    private long _hits;
    private long _misses;

    public ApiKeyMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(ApiKeyDefaults.DiagnosticsName);
        meter.CreateObservableCounter(
            "keys.api_key.checks", ObserveChecks, "{check}", "Requests whose API key was checked, by outcome: ok, or the refusal's code.");
        meter.CreateObservableCounter(
            "keys.api_key.near_cache.lookups", ObserveLookups, "{lookup}", "Near-cache lookups of well-formed keys, by result: hit or miss.");
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

    private IEnumerable<Measurement<long>> ObserveChecks()
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

    private sealed class StrongBox
    {
        public long Value;
    }
}
