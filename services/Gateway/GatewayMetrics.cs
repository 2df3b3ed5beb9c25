using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Keys.AspNetCore;

namespace Keys.Gateway;

/// <summary>
/// Meter <c>Keys.Gateway</c>: what the gateway answered each request that matched a route. The key check's own
/// instruments (near cache, Watch stream, invalidation lag) are the library's, meter <c>Keys.AspNetCore</c>, which the
/// gateway exports too. Listed with healthy values in <c>docs/operations.md</c>.
/// </summary>
/// <remarks>
/// Observable, like the library's counters: a request costs one interlocked increment, and the exporter reads the
/// totals when it collects. Outcomes are fixed words and refusal codes, never anything the client sent.
/// </remarks>
public sealed class GatewayMetrics
{
    public const string MeterName = "Keys.Gateway";

    private readonly ConcurrentDictionary<string, Total> _refused = new(StringComparer.Ordinal);
    private long _passed;
    private long _open;

    public GatewayMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        meter.CreateObservableCounter(
            "keys.gateway.requests",
            Observe,
            "{request}",
            "Requests that matched a route, by outcome: ok (key valid, proxied), open (the route needs no key), or the refusal's code.");
    }

    /// <summary>A key passed every check: the request is proxied.</summary>
    public void Passed() => Interlocked.Increment(ref _passed);

    /// <summary>The route needs no key: the request is proxied unchecked.</summary>
    public void Open() => Interlocked.Increment(ref _open);

    public void Refused(ApiKeyRefusal refusal) =>
        // A handful of codes: the dictionary stops growing after the first refusal of each.
        Interlocked.Increment(ref _refused.GetOrAdd(refusal.Error, static _ => new Total()).Value);

    private IEnumerable<Measurement<long>> Observe()
    {
        yield return new Measurement<long>(Volatile.Read(ref _passed), new KeyValuePair<string, object?>("outcome", "ok"));
        yield return new Measurement<long>(Volatile.Read(ref _open), new KeyValuePair<string, object?>("outcome", "open"));
        foreach (var (code, total) in _refused)
        {
            yield return new Measurement<long>(Volatile.Read(ref total.Value), new KeyValuePair<string, object?>("outcome", code));
        }
    }

    private sealed class Total
    {
        public long Value;
    }
}
