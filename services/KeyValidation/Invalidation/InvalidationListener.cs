using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.KeyValidation.Invalidation;

/// <summary>
/// Keeps this replica's feed exact. KeyAdmin's invalidations arrive on Redis pub/sub, which is fast but at-most-once
/// and stops whenever Redis does, so the truth is KeyAdmin's <c>Changes</c>: asked at start, at once after a gap in
/// sequence numbers or a lost subscription, and every <c>ChangesPollInterval</c>. Each successful poll confirms the
/// replica is current; without one for <c>ConfirmationTimeout</c> it stops vouching for any cache.
/// </summary>
public sealed partial class InvalidationListener(
    IConnectionMultiplexer redis,
    InvalidationFeed feed,
    LocalRecordCache local,
    KeyAdminChanges changes,
    InvalidationSubscription subscription,
    ValidationMetrics metrics,
    TimeProvider time,
    IOptions<KeyValidationOptions> options,
    BackgroundLoops loops,
    ILoggerFactory loggers) : ResilientBackgroundService(loops, loggers.CreateLogger<InvalidationListener>())
{
    private readonly KeyValidationOptions _options = options.Value;
    private readonly ILogger _logger = loggers.CreateLogger<InvalidationListener>();
    private ChannelMessageQueue? _subscription;
    private Task<ChannelMessageQueue>? _subscribing;
    private bool _subscribeFailing;
    private volatile bool _initialized;
    private long _sweptAtMs = Environment.TickCount64;

    protected override string LoopName => "Invalidation catch-up";

    protected override TimeSpan Interval => _options.ChangesPollInterval;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed += OnConnectionFailed;
        redis.ConnectionRestored += OnConnectionRestored;
        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionFailed -= OnConnectionFailed;
        redis.ConnectionRestored -= OnConnectionRestored;
        await base.StopAsync(cancellationToken);
        if (_subscription is not null)
        {
            try
            {
                // Bounded: a frozen Redis must not hold up shutdown.
                await _subscription.UnsubscribeAsync().WaitAsync(_options.RedisTimeout, cancellationToken);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
            {
                // The process is going; the server drops the subscription with the connection.
            }
        }
    }

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        // Every second, nearly always finding nothing: kept out of the traces.
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();

        // Pub/sub only speeds things up: without Redis the poll alone keeps the feed exact, a second behind at most.
        TrySubscribe();

        if (!_initialized)
        {
            // Nothing is cached yet and no watcher has connected (none can before the feed vouches): start from the head.
            var head = await changes.HeadAsync(stoppingToken);
            feed.Flush(head);
            feed.Confirm(head);
            _initialized = true;
            return;
        }

        // Expired entries are never served, but they hold memory and room until swept.
        if (Environment.TickCount64 - _sweptAtMs >= 10_000)
        {
            _sweptAtMs = Environment.TickCount64;
            local.Sweep();
        }

        while (true)
        {
            ChangesResponse response;
            try
            {
                response = await changes.SinceAsync(feed.AppliedSequence, 0, stoppingToken);
            }
            catch (ChangesTooOldException tooOld)
            {
                await StartOverAsync(tooOld, stoppingToken);
                return;
            }

            foreach (var change in response.Changes)
            {
                if (!feed.TryApply(change, out var applied))
                {
                    // The outbox has no holes; a reply that skips one is not to be applied past.
                    throw new InvalidOperationException("KeyAdmin's changes skipped a sequence number.");
                }

                if (applied)
                {
                    OnApplied("changes", change);
                }
            }

            if (feed.Confirm(response.HeadSequence) || response.Changes.Count == 0)
            {
                return;
            }
        }
    }

    /// <summary>
    /// This replica fell further behind than KeyAdmin keeps changes (away, or cut off from KeyAdmin, for longer than its
    /// outbox retention): it cannot learn which cached keys changed, so it forgets them all, tells its Watch clients to
    /// do the same, and carries on from KeyAdmin's head, as at start. Redis's records are the sync's to end: its cursor
    /// meets the same answer.
    /// </summary>
    private async Task StartOverAsync(ChangesTooOldException tooOld, CancellationToken stoppingToken)
    {
        var head = await changes.HeadAsync(stoppingToken);
        feed.Flush(head);
        feed.Confirm(head);
        LogTooOld(tooOld.Since, tooOld.Oldest, head);
    }

    // Never waits on Redis: a subscription that is not done yet is looked at again on the next pass.
    private void TrySubscribe()
    {
        if (_subscription is not null)
        {
            return;
        }

        _subscribing ??= redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(_options.InvalidationChannel));
        if (!_subscribing.IsCompleted)
        {
            return;
        }

        if (_subscribing.IsCompletedSuccessfully)
        {
            // Handled one at a time, in the order Redis delivered them.
            _subscribing.Result.OnMessage(OnMessage);
            _subscription = _subscribing.Result;
            _subscribeFailing = false;
            subscription.Subscribed();
        }
        else
        {
            var reason = _subscribing.Exception?.InnerException?.GetType().Name ?? "Cancelled";
            subscription.Lost($"subscribing failed ({reason})");
            if (!_subscribeFailing)
            {
                _subscribeFailing = true;
                LogSubscribeFailed(reason);
            }
        }

        _subscribing = null;
    }

    private void OnMessage(ChannelMessage message)
    {
        KeyInvalidation invalidation;
        try
        {
            invalidation = KeyInvalidation.Parser.ParseFrom((byte[])message.Message!);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            LogMalformed();
            return;
        }

        if (!InvalidationFeed.IsWellFormed(invalidation))
        {
            LogMalformed();
            return;
        }

        if (!_initialized)
        {
            return;
        }

        if (!feed.TryApply(invalidation, out var applied))
        {
            // A message was lost: caches stop answering until the catch-up has applied what was missed.
            LogGap(feed.AppliedSequence, invalidation.Sequence);
            feed.MarkUncertain();
            Wake();
        }
        else if (applied)
        {
            OnApplied("pubsub", invalidation);
        }
    }

    private void OnApplied(string source, KeyInvalidation invalidation)
    {
        metrics.InvalidationApplied(source, invalidation, time.GetUtcNow());
        if (InvalidationFeed.CoversProject(invalidation))
        {
            LogProjectFlush(invalidation.Sequence, invalidation.ProjectId);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            // Messages published while the subscription is down are gone: stop trusting caches until the next catch-up.
            subscription.Lost($"Redis connection lost ({e.FailureType})");
            feed.MarkUncertain();
            Wake();
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            // The client subscribes again on a restored connection by itself; one never made is TrySubscribe's.
            if (_subscription is not null)
            {
                subscription.Subscribed();
            }

            Wake();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Caches flushed at sequence {Sequence}: a change to every key of project {ProjectId}")]
    private partial void LogProjectFlush(long sequence, string projectId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "KeyAdmin no longer holds the changes after sequence {Since} (it keeps {Oldest} on): caches and Watch clients flushed, carrying on from sequence {Head}")]
    private partial void LogTooOld(long since, long oldest, long head);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored an invalidation message that is not an Invalidation")]
    private partial void LogMalformed();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Invalidation sequence jumped from {Applied} to {Received}; catching up from KeyAdmin")]
    private partial void LogGap(long applied, long received);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not subscribe to invalidations on Redis ({Reason}); following KeyAdmin's changes alone until it can")]
    private partial void LogSubscribeFailed(string reason);
}
