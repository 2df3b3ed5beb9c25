using Keys.KeyValidation.Caching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// Unhealthy while this replica cannot vouch for caches (it has not heard from KeyAdmin within ConfirmationTimeout):
/// Watch clients are refused and lookups need KeyAdmin. Degraded while Redis is behind or failing: lookups go to
/// KeyAdmin instead. The dashboard shows the reason.
/// </summary>
public sealed class InvalidationHealthCheck(InvalidationFeed feed, RedisSync redisSync) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var applied = feed.AppliedSequence;
        if (!feed.IsVouching)
        {
            var since = feed.SinceConfirmed is { } age ? $"last confirmed {age.TotalSeconds:F1} s ago" : "never confirmed";
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"Not current with KeyAdmin's changes ({since}, at sequence {applied}): Watch streams are refused and caches bypassed."));
        }

        if (!feed.IsCurrent)
        {
            return Task.FromResult(HealthCheckResult.Degraded($"Catching up on missed invalidations after sequence {applied}: caches bypassed."));
        }

        if (redisSync.Epoch is null)
        {
            return Task.FromResult(HealthCheckResult.Degraded("Redis is unavailable: lookups that miss memory go to KeyAdmin."));
        }

        var behind = applied - redisSync.SyncedSequence;
        return Task.FromResult(behind > 0
            ? HealthCheckResult.Degraded($"Redis is {behind} invalidations behind: lookups that miss memory go to KeyAdmin until it catches up.")
            : HealthCheckResult.Healthy($"Current at sequence {applied}."));
    }
}
