using Google.Protobuf;
using Keys.ApiKeys;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Caching;

/// <summary>Drops a key's cached record as soon as KeyAdmin announces that the key changed.</summary>
public sealed partial class InvalidationSubscriber(
    IConnectionMultiplexer redis,
    KeyRecordCache cache,
    IOptions<KeyValidationOptions> options,
    ILogger<InvalidationSubscriber> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var channel = RedisChannel.Literal(options.Value.InvalidationChannel);
        var queue = await redis.GetSubscriber().SubscribeAsync(channel);
        try
        {
            await foreach (var message in queue.WithCancellation(stoppingToken))
            {
                V1.Invalidation invalidation;
                try
                {
                    invalidation = V1.Invalidation.Parser.ParseFrom((byte[])message.Message!);
                }
                catch (InvalidProtocolBufferException)
                {
                    LogMalformed();
                    continue;
                }

                if (invalidation.KeyHash.Length != KeyString.HashLength)
                {
                    LogMalformed();
                    continue;
                }

                await cache.RemoveAsync(invalidation.KeyHash.Span);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await queue.UnsubscribeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored an invalidation message that is not an Invalidation")]
    private partial void LogMalformed();
}
