using Grpc.Core;
using Keys.AspNetCore.Caching;
using Keys.V1;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.Invalidation;

/// <summary>
/// Follows KeyValidation's Watch stream and applies it to the near cache, checking that every event follows the one
/// before: an invalidation must be the next sequence number and a heartbeat must be where the cache is. When the
/// stream drops, goes silent, or skips anything, the cache is flushed and serves nothing until a new stream is
/// connected: a key check never answers from memory it cannot keep exact.
/// </summary>
public sealed partial class InvalidationWatcher(
    KeyValidationService.KeyValidationServiceClient validation,
    NearCache cache,
    IOptions<ApiKeyValidationOptions> options,
    BackgroundLoops loops,
    ILoggerFactory loggers) : ResilientBackgroundService(loops, loggers.CreateLogger<InvalidationWatcher>())
{
    private readonly ILogger _logger = loggers.CreateLogger<InvalidationWatcher>();
    private Timer? _sweep;

    protected override string LoopName => "Invalidation stream";

    // The pause before reconnecting after a stream ended; failures back off from there.
    protected override TimeSpan Interval => TimeSpan.FromMilliseconds(100);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _sweep = new Timer(_ => cache.Sweep(), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _sweep?.Dispose();
        base.Dispose();
    }

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        try
        {
            await FollowAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "The invalidation stream went silent."));
        }
        finally
        {
            cache.Flush();
        }
    }

    private async Task FollowAsync(CancellationToken stoppingToken)
    {
        // From "now": the cache is empty (flushed when the last stream ended), so nothing needs replaying.
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var call = validation.Watch(new WatchRequest(), cancellationToken: silence.Token);

        // KeyValidation sends at least a heartbeat every interval: a stream that stays silent longer is dead (a
        // half-open connection looks alive), so it is dropped and the cache flushed.
        silence.CancelAfter(options.Value.WatchSilenceTimeout);
        await foreach (var watchEvent in call.ResponseStream.ReadAllAsync(silence.Token))
        {
            silence.CancelAfter(options.Value.WatchSilenceTimeout);
            var inSequence = watchEvent.EventCase switch
            {
                WatchEvent.EventOneofCase.Invalidation => cache.TryInvalidate(
                    watchEvent.Invalidation.KeyHash.Span,
                    watchEvent.Invalidation.Sequence,
                    watchEvent.Invalidation.RevokesAt?.ToDateTimeOffset().UtcTicks),
                WatchEvent.EventOneofCase.Heartbeat => cache.TryHeartbeat(watchEvent.Heartbeat.Sequence),
                WatchEvent.EventOneofCase.Flush => Reset(watchEvent.Flush.Sequence),
                _ => true,
            };

            if (!inSequence)
            {
                LogGap(cache.Sequence, watchEvent.EventCase.ToString());
                return;
            }
        }
    }

    private bool Reset(long sequence)
    {
        cache.Reset(sequence);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The invalidation stream skipped past sequence {Sequence} (at a {Event}); the near cache is flushed and the stream reopened")]
    private partial void LogGap(long sequence, string @event);
}
