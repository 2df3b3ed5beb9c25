using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyAdmin.Invalidation;

/// <summary>Which caches a flush empties.</summary>
public enum CacheFlushTarget
{
    /// <summary>KeyValidation's memory and its Redis records, and so every near cache downstream of it.</summary>
    KeyValidation,

    /// <summary>Only the near caches of the gateways and internal services (they reload from KeyValidation).</summary>
    Gateways,
}

/// <summary>
/// Asks every KeyValidation replica to flush, on the Redis channel they listen on for such requests
/// (<c>KeyAdmin:ControlChannel</c>). Nothing here touches a key: a flush only makes caches reload what KeyAdmin holds.
/// </summary>
public sealed class CacheFlusher(IConnectionMultiplexer redis, IOptions<KeyAdminOptions> options)
{
    public const string KeyValidationTarget = "key-validation";
    public const string GatewaysTarget = "gateways";

    /// <summary>How many KeyValidation replicas received the request.</summary>
    public async Task<long> FlushAsync(CacheFlushTarget target, CancellationToken cancellationToken)
    {
        var message = "flush " + (target == CacheFlushTarget.KeyValidation ? KeyValidationTarget : GatewaysTarget);
        return await redis.GetSubscriber()
            .PublishAsync(RedisChannel.Literal(options.Value.ControlChannel), message)
            .WaitAsync(options.Value.PublishTimeout, cancellationToken);
    }
}
