using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Keys.Gateway.Authentication;

/// <summary>
/// Counts invalid keys per client address (the connection's, never a header a client could forge). An address over
/// the limit gets 429 for the rest of the window instead of another lookup; other addresses are not affected. A key
/// in the near cache never consults the throttle: guessing cannot reach the cache, and the hot path stays free of it.
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

    /// <summary>What a throttled address is answered.</summary>
    public ErrorResponse Rejection { get; } = ErrorResponse.TooManyInvalidKeys((int)Math.Ceiling(options.Value.InvalidKeyWindow.TotalSeconds));

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
