using Keys.KeyValidation.Caching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// Unhealthy while this replica cannot vouch for caches (it has not heard from KeyAdmin within ConfirmationTimeout):
/// Watch clients are refused and lookups need KeyAdmin. Degraded while Redis is unavailable: lookups go to KeyAdmin
/// instead. The dashboard shows the reason.
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

        // Redis trailing by a few invalidations for milliseconds is normal; a sync that keeps failing shows as a failing
        // background loop as well.
        return Task.FromResult(redisSync.Epoch is null
            ? HealthCheckResult.Degraded(
                $"Redis is unavailable or being re-established (it holds invalidations up to {redisSync.SyncedSequence} of {applied}): lookups that miss memory go to KeyAdmin.")
            : HealthCheckResult.Healthy($"Current at sequence {applied}."));
    }
}
