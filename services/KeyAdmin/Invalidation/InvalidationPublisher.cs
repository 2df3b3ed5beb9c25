using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyAdmin.Invalidation;

/// <summary>Tells every KeyValidation replica that the key with this hash changed and must be dropped from caches.</summary>
public sealed class InvalidationPublisher(IConnectionMultiplexer redis, IOptions<KeyAdminOptions> options)
{
    private readonly RedisChannel _channel = RedisChannel.Literal(options.Value.InvalidationChannel);

    public Task PublishAsync(byte[] keyHash) => redis.GetSubscriber().PublishAsync(_channel, keyHash);
}
