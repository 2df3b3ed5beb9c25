using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Keys.AspNetCore.Diagnostics;

/// <summary>
/// The library's meter and activity source, both named <see cref="ApiKeyDefaults.DiagnosticsName"/>. Keys' service
/// defaults export every <c>Keys.*</c> meter and this source; another service adds them to its own OpenTelemetry setup.
/// </summary>
public sealed class ApiKeyMetrics
{
    public static readonly ActivitySource ActivitySource = new(ApiKeyDefaults.DiagnosticsName);

    private static readonly KeyValuePair<string, object?> Hit = new("result", "hit");
    private static readonly KeyValuePair<string, object?> Miss = new("result", "miss");
    private static readonly KeyValuePair<string, object?> Passed = new("outcome", "ok");

    private readonly Counter<long> _checks;
    private readonly Counter<long> _nearCacheLookups;

    public ApiKeyMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(ApiKeyDefaults.DiagnosticsName);
        _checks = meter.CreateCounter<long>(
            "keys.api_key.checks", "{check}", "Requests whose API key was checked, by outcome: ok, or the refusal's code.");
        _nearCacheLookups = meter.CreateCounter<long>(
            "keys.api_key.near_cache.lookups", "{lookup}", "Near-cache lookups of well-formed keys, by result: hit or miss.");
    }

    /// <summary>A request's key check ended: passed (null) or refused. Called once per request.</summary>
    public void Checked(ApiKeyRefusal? refusal) =>
        _checks.Add(1, refusal is null ? Passed : new KeyValuePair<string, object?>("outcome", refusal.Error));

    public void NearCacheHit() => _nearCacheLookups.Add(1, Hit);

    public void NearCacheMiss() => _nearCacheLookups.Add(1, Miss);
}
