using System.Diagnostics.Metrics;
using Keys.AspNetCore.Diagnostics;

namespace Keys.Gateway;

/// <summary>
/// Meter <c>Keys.Gateway</c>: what the gateway answered each request that matched a route. The key check's own
/// instruments (near cache, Watch stream, invalidation lag) are the library's, meter <c>Keys.AspNetCore</c>, which the
/// gateway exports too. Listed with healthy values in <c>docs/operations.md</c>.
/// </summary>
/// <remarks>
/// Every request of a route that needs a key is checked once by the library, which counts it by outcome: this counter
/// reads those totals and adds the open routes', so a checked request pays for one interlocked increment, not two.
/// Outcomes are fixed words and refusal codes, never anything the client sent.
/// </remarks>
public sealed class GatewayMetrics
{
    public const string MeterName = "Keys.Gateway";

    private long _open;

    public GatewayMetrics(IMeterFactory meters, ApiKeyMetrics checks)
    {
        var meter = meters.Create(MeterName);
        meter.CreateObservableCounter(
            "keys.gateway.requests",
            () => checks.ObserveChecks().Append(new Measurement<long>(Volatile.Read(ref _open), new KeyValuePair<string, object?>("outcome", "open"))),
            "{request}",
            "Requests that matched a route, by outcome: ok (key valid, proxied), open (the route needs no key), or the refusal's code.");
    }

    /// <summary>The route needs no key: the request is proxied unchecked.</summary>
    public void Open() => Interlocked.Increment(ref _open);
}
