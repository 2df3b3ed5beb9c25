using System.Globalization;
using Keys.KeyValidation.Caching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// Unhealthy while this replica cannot vouch for caches (it has not heard from KeyAdmin within ConfirmationTimeout):
/// Watch clients are refused and lookups need KeyAdmin, which is what failing closed means here. Degraded, saying why,
/// while it catches up on missed invalidations (caches bypassed), while Redis is unavailable (lookups go to KeyAdmin),
/// and while it is not subscribed to invalidations on Redis (they arrive by the Changes poll, up to a poll late).
/// ASP.NET Core logs the description of a check that is not Healthy each time /health is asked (a Warning for
/// Degraded, an Error for Unhealthy), which is where an operator sees the reason.
/// </summary>
public sealed class InvalidationHealthCheck(
    InvalidationFeed feed, RedisSync redisSync, InvalidationSubscription subscription, TimeProvider time) : IHealthCheck
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

        // Every reason at once: an operator fixing Redis should not learn of the next problem only afterwards.
        List<string> reasons = [];
        if (!feed.IsCurrent)
        {
            reasons.Add($"Catching up on missed invalidations after sequence {applied}: caches bypassed.");
        }

        // Redis trailing by a few invalidations for milliseconds is normal; a sync that keeps failing shows as a failing
        // background loop as well.
        if (redisSync.Epoch is null)
        {
            reasons.Add(
                $"Redis is unavailable or being re-established (it holds invalidations up to {redisSync.SyncedSequence} of {applied}): lookups that miss memory go to KeyAdmin.");
        }

        if (subscription.Down is var (downSince, reason))
        {
            reasons.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"Not subscribed to invalidations on Redis ({reason}, for {(time.GetUtcNow() - downSince).TotalSeconds:F1} s): they arrive by the Changes poll alone, up to a poll interval late."));
        }

        if (reasons.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Degraded(string.Join(" ", reasons)));
        }

        return Task.FromResult(HealthCheckResult.Healthy($"Current at sequence {applied}."));
    }
}
