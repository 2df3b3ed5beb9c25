using System.Globalization;
using Grpc.Core;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.V1;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.Invalidation;

/// <summary>
/// Follows KeyValidation's Watch stream and applies it to the near cache, checking that every event follows the one
/// before: an invalidation must be the next sequence number and a heartbeat must be where the cache is. When the
/// stream drops, goes silent, or skips anything, the cache is flushed and serves nothing until a new stream is
/// connected: a key check never answers from memory it cannot keep exact. Where the stream is goes to
/// <see cref="WatchStatus"/> (health, the state gauge); how late each invalidation arrives, to <see cref="ApiKeyMetrics"/>.
/// </summary>
public sealed partial class InvalidationWatcher(
    KeyValidationService.KeyValidationServiceClient validation,
    NearCache cache,
    WatchStatus status,
    ApiKeyMetrics metrics,
    TimeProvider time,
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
        // How the stream ended, for health ("silent for 3 s", a gRPC status name: never a server's message) and for the
        // flush counter.
        var reason = "the service is stopping";
        var flush = FlushReason.StreamLost;
        try
        {
            (reason, flush) = await FollowAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } && !stoppingToken.IsCancellationRequested)
        {
            // Nothing but the silence timer cancels the call while the service runs.
            (reason, flush) = (
                string.Create(CultureInfo.InvariantCulture, $"silent for {options.Value.WatchSilenceTimeout.TotalSeconds:0.#} s"), FlushReason.Silence);
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "The invalidation stream went silent."));
        }
        catch (RpcException ex) when (!stoppingToken.IsCancellationRequested)
        {
            reason = ex.StatusCode.ToString();
            throw;
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            reason = ex.GetType().Name;
            throw;
        }
        finally
        {
            var wasServing = cache.IsConnected;
            cache.Flush();
            status.Lost(reason);
            if (wasServing)
            {
                metrics.NearCacheFlushed(flush);
                if (!stoppingToken.IsCancellationRequested)
                {
                    // Once per outage, when it starts: health says the same on every probe, but Aspire probes a service
                    // that answers 200 only every 30 s.
                    LogLost(reason);
                }
            }
        }
    }

    private async Task<(string Reason, FlushReason Flush)> FollowAsync(CancellationToken stoppingToken)
    {
        // From "now": the cache is empty (flushed when the last stream ended), so nothing needs replaying.
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        status.Connecting();
        using var call = validation.Watch(new WatchRequest(), cancellationToken: silence.Token);

        // KeyValidation sends at least a heartbeat every interval: a stream that stays silent longer is dead (a
        // half-open connection looks alive), so it is dropped and the cache flushed.
        silence.CancelAfter(options.Value.WatchSilenceTimeout);
        var serving = false;
        await foreach (var watchEvent in call.ResponseStream.ReadAllAsync(silence.Token))
        {
            silence.CancelAfter(options.Value.WatchSilenceTimeout);
            var inSequence = watchEvent.EventCase switch
            {
                WatchEvent.EventOneofCase.Invalidation => Invalidate(watchEvent.Invalidation),
                WatchEvent.EventOneofCase.Heartbeat => cache.TryHeartbeat(watchEvent.Heartbeat.Sequence),
                WatchEvent.EventOneofCase.Flush => Reset(watchEvent.Flush.Sequence),
                _ => true,
            };

            if (!inSequence)
            {
                LogGap(cache.Sequence, watchEvent.EventCase.ToString());
                return ("a sequence gap", FlushReason.Gap);
            }

            if (!serving && cache.IsConnected)
            {
                serving = true;
                var off = status.Snapshot().Since;
                // The pass lasts as long as the stream: it works from here, and health must not wait for its end.
                // Marked before Connected so that anyone who sees the stream connected sees the loop healthy too.
                PassWorks();
                status.Connected();
                LogConnected(cache.Sequence, (time.GetUtcNow() - off).TotalSeconds);
            }
        }

        return ("ended by KeyValidation", FlushReason.StreamLost);
    }

    private bool Invalidate(KeyInvalidation invalidation)
    {
        if (!cache.TryInvalidate(invalidation.KeyHash.Span, invalidation.Sequence, invalidation.RevokesAt?.ToDateTimeOffset().UtcTicks))
        {
            return false;
        }

        if (invalidation.RecordedAt is { } recordedAt)
        {
            metrics.InvalidationApplied(time.GetUtcNow() - recordedAt.ToDateTimeOffset());
        }

        return true;
    }

    private bool Reset(long sequence)
    {
        // Counted first, so that whoever sees the new sequence sees the flush counted.
        metrics.NearCacheFlushed(FlushReason.Requested);
        cache.Reset(sequence);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Watch stream from KeyValidation was lost ({Reason}): the near cache is off, and every key is looked up at KeyValidation until the stream is back")]
    private partial void LogLost(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Following KeyValidation's Watch stream at sequence {Sequence}: the near cache is on (it was off for {OffSeconds:F1} s)")]
    private partial void LogConnected(long sequence, double offSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The invalidation stream skipped past sequence {Sequence} (at a {Event}); the near cache is flushed and the stream reopened")]
    private partial void LogGap(long sequence, string @event);
}
