using Keys.KeyValidation.Caching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// Flushes caches when an operator asks KeyAdmin to (channel <c>KeyValidation:ControlChannel</c>): "flush
/// key-validation" ends the Redis records' epoch (every replica then starts a new, empty one, as after a Redis restart)
/// and flushes this replica's memory and its Watch clients; "flush gateways" flushes only the Watch clients' near
/// caches. A request lost while Redis is down is lost: the operator sees that KeyAdmin could not deliver it, and asks
/// again.
/// </summary>
public sealed partial class CacheFlushListener(
    IConnectionMultiplexer redis,
    RedisRecordStore store,
    InvalidationFeed feed,
    IOptions<KeyValidationOptions> options,
    ILogger<CacheFlushListener> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Until the first subscription succeeds; StackExchange.Redis subscribes again by itself after a reconnect.
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var messages = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(options.Value.ControlChannel));
                messages.OnMessage(message => HandleAsync(message.Message.ToString()));
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
    }

    private async Task HandleAsync(string message)
    {
        switch (message)
        {
            case "flush key-validation":
                try
                {
                    // The epoch goes first: a lookup between the two steps must not refill memory from old Redis records.
                    await store.ForgetEpochAsync().WaitAsync(options.Value.RedisTimeout);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Redis just delivered this, so it is rarely away now; if it is, the epoch check finds it changed later.
                    LogEpochNotForgotten(ex.Message);
                }

                feed.Flush();
                LogFlushed("key-validation");
                break;
            case "flush gateways":
                feed.FlushWatchers();
                LogFlushed("gateways");
                break;
            default:
                LogUnknown();
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Caches flushed at an operator's request: {Target}")]
    private partial void LogFlushed(string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A cache flush could not end the Redis epoch now: {Reason}")]
    private partial void LogEpochNotForgotten(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a control message of an unknown kind")]
    private partial void LogUnknown();
}
