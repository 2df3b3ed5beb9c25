using System.Security.Cryptography;
using Keys.ApiKeys;
using Keys.KeyValidation.Invalidation;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation.Caching;

/// <summary>
/// Brings Redis up to date with the invalidations this replica has applied, after the fact: applying an invalidation
/// (memory, Watch clients) never waits on Redis. Until Redis has every invalidation applied when a lookup starts,
/// that lookup does not read Redis; while Redis fails, nothing does, and lookups go to KeyAdmin.
/// </summary>
/// <remarks>
/// It also keeps the Redis epoch: records live under the epoch's name, and an epoch is only good on the server it was
/// started on. A restarted, flushed or failed-over Redis is a gap: a new epoch is started (so no record or fencing
/// marker from before can be read or written back), this replica's caches and its Watch clients flush, and Redis is
/// filled again from KeyAdmin. A change that covers a whole project ends the epoch too: Redis cannot find a project's
/// records, so the sync ends the epoch at that change's sequence (unless it started after it) and goes on in a new one.
/// </remarks>
public sealed partial class RedisSync : ResilientBackgroundService
{
    private static readonly TimeSpan EpochCheckInterval = TimeSpan.FromSeconds(1);
    private const int PageSize = 1000;

    private readonly RedisRecordStore _store;
    private readonly InvalidationFeed _feed;
    private readonly KeyAdminChanges _changes;
    private readonly TimeSpan _timeout;
    private readonly long _unavailableForMs;
    private readonly ILogger<RedisSync> _logger;

    // Null until an epoch is known; every invalidation up to _synced is in Redis under it.
    private string? _epoch;
    private long _synced = -1;
    private long _unavailableUntilMs;
    private long _epochCheckedAtMs = long.MinValue / 2;

    public RedisSync(
        RedisRecordStore store,
        InvalidationFeed feed,
        KeyAdminChanges changes,
        IOptions<KeyValidationOptions> options,
        BackgroundLoops loops,
        ILogger<RedisSync> logger) : base(loops, logger)
    {
        _store = store;
        _feed = feed;
        _changes = changes;
        _timeout = options.Value.RedisTimeout;
        _unavailableForMs = (long)(2 * options.Value.RedisTimeout.TotalMilliseconds) + 1000;
        _logger = logger;
        feed.Applied += Wake;
    }

    protected override string LoopName => "Redis sync";

    protected override TimeSpan Interval => EpochCheckInterval;

    /// <summary>The epoch to read and write records in; null while Redis is unknown or failing.</summary>
    public string? Epoch => Environment.TickCount64 < Volatile.Read(ref _unavailableUntilMs) ? null : Volatile.Read(ref _epoch);

    /// <summary>Redis holds every invalidation up to this sequence.</summary>
    public long SyncedSequence => Volatile.Read(ref _synced);

    /// <summary>Nobody reads Redis for a while: a call timed out or failed. The next successful pass lifts it.</summary>
    public void ReportUnavailable()
    {
        Volatile.Write(ref _unavailableUntilMs, Environment.TickCount64 + _unavailableForMs);
        Wake();
    }

    protected override async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        try
        {
            using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
            if (_epoch is null || Environment.TickCount64 - _epochCheckedAtMs >= EpochCheckInterval.TotalMilliseconds)
            {
                await CheckEpochAsync(stoppingToken);
            }

            await CatchUpAsync(stoppingToken);
            Volatile.Write(ref _unavailableUntilMs, 0);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested && ex is not OperationCanceledException)
        {
            Volatile.Write(ref _unavailableUntilMs, Environment.TickCount64 + _unavailableForMs);
            throw;
        }
    }

    private async Task CheckEpochAsync(CancellationToken cancellationToken)
    {
        var state = await _store.ReadEpochAsync().WaitAsync(_timeout, cancellationToken);
        _epochCheckedAtMs = Environment.TickCount64;
        if (state.IsValid && state.Epoch == _epoch)
        {
            return;
        }

        var known = _epoch;
        if (known is not null)
        {
            // Whatever happened to Redis, answers cached from it may be older than invalidations it lost.
            LogEpochLost();
            Volatile.Write(ref _epoch, null);
            _feed.Flush();
        }

        if (!state.IsValid)
        {
            // The head is read before the new epoch starts: every change up to it is reflected by an empty epoch, and
            // any record written in it comes from a lookup that began after it started.
            var head = await _changes.HeadAsync(cancellationToken);
            var epoch = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            if (await _store.StartEpochAsync(state.Epoch, epoch, state.ServerRunId, head).WaitAsync(_timeout, cancellationToken))
            {
                LogEpochStarted(epoch, head);
            }

            // Won or lost, the state is read again: someone else's new epoch is as good as ours.
            state = await _store.ReadEpochAsync().WaitAsync(_timeout, cancellationToken);
            if (!state.IsValid)
            {
                throw new InvalidOperationException("The Redis epoch changed while it was being started.");
            }
        }

        Volatile.Write(ref _synced, state.Watermark);
        Volatile.Write(ref _epoch, state.Epoch);
    }

    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        var target = _feed.AppliedSequence;
        while (_synced < target)
        {
            Keys.V1.ChangesResponse response;
            try
            {
                response = await _changes.SinceAsync(_synced, PageSize, cancellationToken);
            }
            catch (ChangesTooOldException tooOld)
            {
                await EndPrunedEpochAsync(tooOld, cancellationToken);
                continue;
            }

            if (response.Changes.Count == 0)
            {
                return;
            }

            // Key by key up to a change that covers a whole project, if there is one; that one ends the epoch.
            var keys = response.Changes.TakeWhile(c => !InvalidationFeed.CoversProject(c)).ToList();
            if (keys.Count > 0)
            {
                // Pipelined: one connection keeps them in order, and the sync is done when the last one is.
                var epoch = _epoch!;
                var writes = keys.Select(c => _store.InvalidateAsync(KeyHash.From(c.KeyHash.Span), c.Sequence, epoch)).ToList();
                var results = await Task.WhenAll(writes).WaitAsync(_timeout, cancellationToken);
                if (results.Any(applied => !applied))
                {
                    // Someone started a new epoch: find out at once rather than at the next check.
                    _epochCheckedAtMs = long.MinValue / 2;
                    throw new InvalidOperationException("The Redis epoch changed during the sync.");
                }

                Volatile.Write(ref _synced, keys[^1].Sequence);
            }

            if (keys.Count < response.Changes.Count)
            {
                await EndEpochAtAsync(response.Changes[keys.Count], cancellationToken);
            }
        }
    }

    /// <summary>
    /// Ends the epoch for a change that covers every key of a project, unless another replica already did, and goes on
    /// in the epoch that follows. Nobody reads Redis meanwhile: the epoch is unknown, and Redis trails the feed.
    /// </summary>
    private async Task EndEpochAtAsync(Keys.V1.KeyInvalidation change, CancellationToken cancellationToken)
    {
        if (await _store.EndEpochBeforeAsync(change.Sequence).WaitAsync(_timeout, cancellationToken))
        {
            LogEpochEnded(change.Sequence, change.ProjectId);
        }

        // Not a loss of Redis: the feed flushed memory and Watch clients at this change already, so the check below
        // starts (or adopts) the next epoch without flushing them again. Its watermark is where the sync goes on from.
        Volatile.Write(ref _epoch, null);
        await CheckEpochAsync(cancellationToken);
    }

    /// <summary>
    /// KeyAdmin pruned invalidations this epoch never received (a replica restarting onto a Redis that outlived every
    /// KeyValidation for longer than the outbox retention): its records may hold keys since deleted, and nothing says
    /// which. The epoch ends (unless its watermark has meanwhile passed what was pruned), this replica's caches and Watch
    /// clients flush, and the sync goes on in a new epoch started at KeyAdmin's head.
    /// </summary>
    private async Task EndPrunedEpochAsync(ChangesTooOldException tooOld, CancellationToken cancellationToken)
    {
        var ended = await _store.EndEpochBeforeAsync(tooOld.PrunedThrough).WaitAsync(_timeout, cancellationToken);
        LogEpochPruned(tooOld.Since, tooOld.Oldest, ended);
        Volatile.Write(ref _epoch, null);
        _feed.Flush();
        await CheckEpochAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis's records reflect changes up to sequence {Since}, but KeyAdmin keeps only {Oldest} on: the epoch ends (ended here: {Ended}), caches and Watch clients flush, and Redis is filled again")]
    private partial void LogEpochPruned(long since, long oldest, bool ended);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis lost its key records' epoch (restarted, flushed or failed over): caches and Watch clients flush, and Redis is filled again")]
    private partial void LogEpochLost();

    [LoggerMessage(Level = LogLevel.Information, Message = "Ended the Redis records' epoch at sequence {Sequence}: a change to every key of project {ProjectId}")]
    private partial void LogEpochEnded(long sequence, string projectId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started Redis epoch {Epoch} at sequence {Sequence}")]
    private partial void LogEpochStarted(string epoch, long sequence);
}
