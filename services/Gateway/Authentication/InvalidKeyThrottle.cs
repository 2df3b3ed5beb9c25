using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Counts invalid keys per client address (the connection's, never a header a client could forge). A client over
/// the limit gets 429 for the rest of the window; other clients are not affected.
/// </summary>
public sealed class InvalidKeyThrottle(IOptions<GatewayOptions> options) : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(
        address => RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.InvalidKeyLimit,
            Window = options.Value.InvalidKeyWindow,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    private readonly int _retryAfterSeconds = (int)Math.Ceiling(options.Value.InvalidKeyWindow.TotalSeconds);

    public int RetryAfterSeconds => _retryAfterSeconds;

    /// <summary>False when this address has used up its invalid keys for the window.</summary>
    public bool IsAllowed(IPAddress? address)
    {
        using var lease = _limiter.AttemptAcquire(address ?? IPAddress.None, permitCount: 0);
        return lease.IsAcquired;
    }

    public void RecordInvalid(IPAddress? address)
    {
        using var lease = _limiter.AttemptAcquire(address ?? IPAddress.None);
    }

    public void Dispose() => _limiter.Dispose();
}
