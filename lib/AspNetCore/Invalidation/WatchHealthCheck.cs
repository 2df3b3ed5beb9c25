using System.Globalization;
using Keys.AspNetCore.Caching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Keys.AspNetCore.Invalidation;

/// <summary>
/// Degraded, saying why and for how long, while the Watch stream is not followed: keys are still checked (each at
/// KeyValidation, 503 when it cannot answer), but nothing is answered from memory, so the service is slower and leans on
/// KeyValidation. Not Unhealthy: a service that takes itself out of rotation for this would turn a slow path into an
/// outage.
/// </summary>
public sealed class WatchHealthCheck(WatchStatus status, NearCache cache, TimeProvider time) : IHealthCheck
{
    /// <summary>The check's name in health reports.</summary>
    public const string Name = "invalidation-stream";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (state, since, lastLoss) = status.Snapshot();
        if (state == WatchState.Connected)
        {
            return Task.FromResult(HealthCheckResult.Healthy(
                string.Create(CultureInfo.InvariantCulture, $"Following KeyValidation's Watch stream since {since:O}, at sequence {cache.Sequence}.")));
        }

        var off = time.GetUtcNow() - since;
        var where = state == WatchState.Connecting ? "being opened" : "down";
        var why = lastLoss is null ? "not connected since the service started" : $"the last stream was lost: {lastLoss}";
        return Task.FromResult(HealthCheckResult.Degraded(string.Create(
            CultureInfo.InvariantCulture,
            $"The Watch stream from KeyValidation is {where} ({why}; near cache off for {off.TotalSeconds:F1} s): every key is looked up at KeyValidation, and answered 503 while it cannot answer.")));
    }
}
