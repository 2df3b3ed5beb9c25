using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// Keeps this replica's caches exact. It follows KeyAdmin's invalidations on Redis pub/sub, which is fast but
/// at-most-once, so it also asks KeyAdmin for the changes since the last applied sequence: at start, after a gap in
/// sequence numbers, after the subscription reconnects, and on a short poll that catches a lost last message.
/// </summary>
public sealed partial class InvalidationListener(
    IConnectionMultiplexer redis,
    RedisRecordStore store,
    InvalidationFeed feed,
    LocalRecordCache local,
    V1.KeyAdmin.KeyAdminClient keyAdmin,
    IOptions<KeyValidationOptions> options,
    ILogger<InvalidationListener> logger) : BackgroundService
{
    private readonly KeyValidationOptions _options = options.Value;
    private readonly SemaphoreSlim _applying = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(_options.InvalidationChannel));
        redis.ConnectionFailed += OnConnectionFailed;
        redis.ConnectionRestored += OnConnectionRestored;
        try
        {
            var messages = ConsumeAsync(queue, stoppingToken);
            await InitializeAsync(stoppingToken);

            using var poll = new PeriodicTimer(_options.ChangesPollInterval);
            var sweepEvery = Math.Max(1, (int)(TimeSpan.FromSeconds(10) / _options.ChangesPollInterval));
            for (var tick = 1; await poll.WaitForNextTickAsync(stoppingToken); tick++)
            {
                // Every second, nearly always finding nothing: kept out of the traces.
                using (OpenTelemetry.SuppressInstrumentationScope.Begin())
                {
                    await CatchUpSafelyAsync(stoppingToken);
                }

                if (tick % sweepEvery == 0)
                {
                    local.Sweep();
                }
            }

            await messages;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            redis.ConnectionFailed -= OnConnectionFailed;
            redis.ConnectionRestored -= OnConnectionRestored;
            await queue.UnsubscribeAsync();
        }
    }

    private async Task ConsumeAsync(ChannelMessageQueue queue, CancellationToken stoppingToken)
    {
        await foreach (var message in queue.WithCancellation(stoppingToken))
        {
            V1.Invalidation invalidation;
            try
            {
                invalidation = V1.Invalidation.Parser.ParseFrom((byte[])message.Message!);
                KeyHash.From(invalidation.KeyHash.Span);
            }
            catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or ArgumentException)
            {
                LogMalformed();
                continue;
            }

            await OnInvalidationAsync(invalidation, stoppingToken);
        }
    }

    private async Task OnInvalidationAsync(V1.Invalidation invalidation, CancellationToken cancellationToken)
    {
        await _applying.WaitAsync(cancellationToken);
        try
        {
            if (invalidation.Sequence <= feed.AppliedSequence)
            {
                return;
            }

            if (feed.IsCurrent && invalidation.Sequence == feed.AppliedSequence + 1)
            {
                await store.InvalidateAsync(KeyHash.From(invalidation.KeyHash.Span), invalidation.Sequence, advanceWatermark: true);
                feed.Apply(invalidation);
                return;
            }
        }
        catch (RedisException)
        {
            // Could not drop the Redis copy: stop trusting caches until a catch-up has done it.
            feed.MarkUncertain();
            return;
        }
        finally
        {
            _applying.Release();
        }

        // A gap: some message was lost. Caches stop serving until the catch-up has applied what was missed.
        LogGap(feed.AppliedSequence, invalidation.Sequence);
        feed.MarkUncertain();
        await CatchUpSafelyAsync(cancellationToken);
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _applying.WaitAsync(cancellationToken);
                try
                {
                    var watermark = await store.GetWatermarkAsync();
                    if (watermark is { } applied)
                    {
                        feed.Flush(applied);
                        await CatchUpCoreAsync(cancellationToken);
                    }
                    else
                    {
                        // Nobody has recorded which changes Redis reflects (a new or restarted Redis): start clean.
                        var head = (await ChangesAsync(0, 1, cancellationToken)).HeadSequence;
                        await store.FlushAsync();
                        await store.AdvanceWatermarkAsync(head);
                        feed.Flush(head);
                        feed.MarkCurrent(head);
                    }
                }
                finally
                {
                    _applying.Release();
                }

                return;
            }
            catch (Exception ex) when (ex is RpcException or RedisException && !cancellationToken.IsCancellationRequested)
            {
                LogCatchUpFailed(ex.GetType().Name);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private async Task CatchUpSafelyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _applying.WaitAsync(cancellationToken);
            try
            {
                await CatchUpCoreAsync(cancellationToken);
            }
            finally
            {
                _applying.Release();
            }
        }
        catch (Exception ex) when (ex is RpcException or RedisException && !cancellationToken.IsCancellationRequested)
        {
            feed.MarkUncertain();
            LogCatchUpFailed(ex.GetType().Name);
        }
    }

    // Callers hold _applying.
    private async Task CatchUpCoreAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var response = await ChangesAsync(feed.AppliedSequence, 0, cancellationToken);
            foreach (var change in response.Changes)
            {
                await store.InvalidateAsync(KeyHash.From(change.KeyHash.Span), change.Sequence, advanceWatermark: true);
                feed.Apply(change);
            }

            // Each InvalidateAsync moved the shared watermark along; an idle poll sends Redis nothing.
            if (response.Changes.Count == 0 || feed.AppliedSequence >= response.HeadSequence)
            {
                feed.MarkCurrent(feed.AppliedSequence);
                return;
            }
        }
    }

    private async Task<V1.ChangesResponse> ChangesAsync(long since, int limit, CancellationToken cancellationToken) =>
        await keyAdmin.ChangesAsync(
            new V1.ChangesRequest { SinceSequence = since, Limit = limit },
            deadline: DateTime.UtcNow + _options.LookupTimeout,
            cancellationToken: cancellationToken);

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            // Messages published while the subscription is down are gone: stop trusting caches now.
            feed.MarkUncertain();
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            _ = CatchUpSafelyAsync(CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored an invalidation message that is not an Invalidation")]
    private partial void LogMalformed();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Invalidation sequence jumped from {Applied} to {Received}; catching up from KeyAdmin")]
    private partial void LogGap(long applied, long received);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Catching up on invalidations failed ({Reason}); lookups bypass caches until it succeeds")]
    private partial void LogCatchUpFailed(string reason);
}
