using Grpc.Core;
using Keys.V1;
using Microsoft.Extensions.Options;

namespace Keys.Gateway.Caching;

/// <summary>
/// Follows KeyValidation's Watch stream and applies it to the near cache. When the stream drops, the cache is flushed
/// and serves nothing until the stream is back: a gateway never answers from memory it cannot keep exact.
/// </summary>
public sealed partial class InvalidationWatcher(
    V1.KeyValidation.KeyValidationClient validation,
    NearCache cache,
    IOptions<GatewayOptions> options,
    ILogger<InvalidationWatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        using var sweep = new Timer(_ => cache.Sweep(), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // From "now": the cache was flushed when the last stream dropped, so nothing needs replaying.
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                using var call = validation.Watch(new WatchRequest(), cancellationToken: silence.Token);

                // KeyValidation sends at least a heartbeat every interval: a stream that stays silent longer is dead
                // (a half-open connection looks alive), so it is dropped and the cache flushed.
                silence.CancelAfter(options.Value.WatchSilenceTimeout);
                await foreach (var watchEvent in call.ResponseStream.ReadAllAsync(silence.Token))
                {
                    silence.CancelAfter(options.Value.WatchSilenceTimeout);
                    switch (watchEvent.EventCase)
                    {
                        case WatchEvent.EventOneofCase.Invalidation:
                            cache.Invalidate(watchEvent.Invalidation.KeyHash.Span, watchEvent.Invalidation.Sequence);
                            break;
                        case WatchEvent.EventOneofCase.Flush:
                            cache.Reset(watchEvent.Flush.Sequence);
                            break;
                        case WatchEvent.EventOneofCase.Heartbeat:
                            cache.Connected(watchEvent.Heartbeat.Sequence);
                            break;
                    }

                    delay = TimeSpan.FromMilliseconds(100);
                }
            }
            catch (RpcException ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogDropped(ex.StatusCode);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                LogDropped(StatusCode.DeadlineExceeded);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            cache.Flush();
            await Task.Delay(delay, stoppingToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2_000));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The invalidation stream from KeyValidation dropped ({Status}); the near cache is flushed until it is back")]
    private partial void LogDropped(StatusCode status);
}
