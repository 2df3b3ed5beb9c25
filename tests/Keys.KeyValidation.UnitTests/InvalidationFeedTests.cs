using Google.Protobuf;
using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Keys.KeyValidation.Invalidation;
using Keys.V1;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.KeyValidation.UnitTests;

/// <summary>KeyValidation's feed applies invalidations strictly in order and never thins a watcher's stream.</summary>
public sealed class InvalidationFeedTests
{
    private const int BufferCapacity = 16;

    private readonly FakeTimeProvider _time = new();
    private readonly LocalRecordCache _local;
    private readonly InvalidationFeed _feed;

    public InvalidationFeedTests()
    {
        var options = Options.Create(new KeyValidationOptions
        {
            WatchBufferCapacity = BufferCapacity,
            WatchReplayCapacity = 4,
            ConfirmationTimeout = TimeSpan.FromSeconds(3),
        });
        _local = new LocalRecordCache(options, _time);
        _feed = new InvalidationFeed(_local, options, _time);
    }

    [Fact]
    public void WatcherTooFarBehindGetsOneFlushInPlaceOfItsBacklog()
    {
        CurrentAt(0);
        var watcher = _feed.Subscribe(0)!;

        for (var sequence = 1; sequence <= 10 * BufferCapacity; sequence++)
        {
            Assert.True(_feed.TryApply(Invalidation(sequence)));
        }

        // Read as a client would: every event must follow the one before; the stream ends at the head.
        var position = watcher.StartSequence;
        var flushes = 0;
        while (watcher.Events.TryRead(out var watchEvent))
        {
            switch (watchEvent.EventCase)
            {
                case WatchEvent.EventOneofCase.Invalidation:
                    Assert.Equal(position + 1, watchEvent.Invalidation.Sequence);
                    position = watchEvent.Invalidation.Sequence;
                    break;
                case WatchEvent.EventOneofCase.Heartbeat:
                    Assert.Equal(position, watchEvent.Heartbeat.Sequence);
                    break;
                case WatchEvent.EventOneofCase.Flush:
                    flushes++;
                    position = watchEvent.Flush.Sequence;
                    break;
            }
        }

        // It never read, so each overflow replaced the one before: what is left is a single flush and what followed it.
        Assert.Equal(1, flushes);
        Assert.Equal(10 * BufferCapacity, position);
        Assert.True(_feed.WatcherFlushes >= 1);
    }

    [Fact]
    public void InvalidationPastTheNextIsRefused()
    {
        CurrentAt(5);

        Assert.False(_feed.TryApply(Invalidation(7)));
        Assert.Equal(5, _feed.AppliedSequence);
        Assert.True(_feed.TryApply(Invalidation(6)));
        Assert.True(_feed.TryApply(Invalidation(6)));
        Assert.Equal(6, _feed.AppliedSequence);
    }

    [Fact]
    public void ReplicaNeverConfirmedByKeyAdminRefusesWatchers()
    {
        Assert.False(_feed.IsVouching);
        Assert.Null(_feed.Subscribe(0));
    }

    [Fact]
    public void ReplicaStopsVouchingWhenKeyAdminHasNotConfirmedWithinTheTimeout()
    {
        CurrentAt(3);
        _time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.True(_feed.IsCurrent);

        _time.Advance(TimeSpan.FromSeconds(0.2));

        Assert.False(_feed.IsVouching);
        Assert.False(_feed.IsCurrent);
        Assert.Null(_feed.Subscribe(0));
    }

    [Fact]
    public void HeadNotYetAppliedIsNoConfirmation()
    {
        CurrentAt(3);
        _time.Advance(TimeSpan.FromSeconds(2.9));

        Assert.False(_feed.Confirm(4));
        _time.Advance(TimeSpan.FromSeconds(0.2));

        Assert.False(_feed.IsVouching);
    }

    [Fact]
    public void LoadOlderThanAnAppliedInvalidationIsNotCached()
    {
        CurrentAt(4);
        Assert.True(_feed.TryApply(Invalidation(5)));
        var hash = NewHash();

        _feed.CacheLoaded(hash, new KeyRecord { KeyId = "key_stale" }, reflectsUpTo: 4);
        Assert.False(_local.TryGet(hash, out _));

        _feed.CacheLoaded(hash, new KeyRecord { KeyId = "key_fresh" }, reflectsUpTo: 5);
        Assert.True(_local.TryGet(hash, out _));
    }

    [Fact]
    public void ClientTooOldToReplayIsToldToFlush()
    {
        CurrentAt(0);
        for (var sequence = 1; sequence <= 10; sequence++)
        {
            _feed.TryApply(Invalidation(sequence));
        }

        Assert.True(_feed.Subscribe(2)!.Events.TryRead(out var tooOld));
        Assert.Equal(WatchEvent.EventOneofCase.Flush, tooOld.EventCase);
        Assert.Equal(10, tooOld.Flush.Sequence);

        Assert.True(_feed.Subscribe(8)!.Events.TryRead(out var recent));
        Assert.Equal(9, recent.Invalidation.Sequence);
    }

    [Fact]
    public void ReplicaThatNoticedAGapStillVouchesButBypassesItsCachesUntilKeyAdminConfirmsAgain()
    {
        CurrentAt(3);

        _feed.MarkUncertain();

        Assert.True(_feed.IsVouching);
        Assert.False(_feed.IsCurrent);
        Assert.True(_feed.Confirm(3));
        Assert.True(_feed.IsCurrent);
    }

    [Fact]
    public void LoadFinishedWhileTheReplicaIsUncertainIsNotCached()
    {
        CurrentAt(3);
        _feed.MarkUncertain();
        var hash = NewHash();

        _feed.CacheLoaded(hash, new KeyRecord { KeyId = "key_unsure" }, reflectsUpTo: 3);

        Assert.False(_local.TryGet(hash, out _));
    }

    [Fact]
    public void ConfirmationAgeIsUnknownUntilKeyAdminFirstConfirms()
    {
        Assert.Null(_feed.SinceConfirmed);

        CurrentAt(3);
        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(TimeSpan.FromSeconds(2), _feed.SinceConfirmed);
    }

    [Fact]
    public void AppliedInvalidationDropsItsKeyFromMemoryAndIsAnnouncedOnce()
    {
        CurrentAt(3);
        var announced = 0;
        _feed.Applied += () => announced++;
        var invalidation = Invalidation(4);
        var hash = KeyHash.From(invalidation.KeyHash.Span);
        _local.Set(hash, new KeyRecord { KeyId = "key_deleted" });

        Assert.True(_feed.TryApply(invalidation));
        Assert.True(_feed.TryApply(invalidation));
        Assert.False(_feed.TryApply(Invalidation(6)));

        Assert.False(_local.TryGet(hash, out _));
        Assert.Equal(1, announced);
    }

    [Fact]
    public void ClientAtTheCurrentSequenceResumesWithAHeartbeat()
    {
        CurrentAt(0);
        for (var sequence = 1; sequence <= 3; sequence++)
        {
            _feed.TryApply(Invalidation(sequence));
        }

        var watcher = _feed.Subscribe(3)!;

        Assert.True(watcher.Events.TryRead(out var first));
        Assert.Equal(3, first.Heartbeat.Sequence);
        Assert.False(watcher.Events.TryRead(out _));
    }

    [Fact]
    public void ClientAheadOfThisReplicaIsToldToFlush()
    {
        // It followed another replica further along; nothing here can bring it back in step.
        CurrentAt(5);

        Assert.True(_feed.Subscribe(9)!.Events.TryRead(out var first));

        Assert.Equal(WatchEvent.EventOneofCase.Flush, first.EventCase);
        Assert.Equal(5, first.Flush.Sequence);
    }

    [Fact]
    public void FlushForgetsMemoryAndTellsEveryWatcherAtTheSameSequence()
    {
        CurrentAt(0);
        _feed.TryApply(Invalidation(1));
        _feed.TryApply(Invalidation(2));
        var hash = NewHash();
        _local.Set(hash, new KeyRecord { KeyId = "key_cached" });
        var watcher = _feed.Subscribe(0)!;
        Assert.True(watcher.Events.TryRead(out _));

        _feed.Flush();

        Assert.True(watcher.Events.TryRead(out var flush));
        Assert.Equal(2, flush.Flush.Sequence);
        Assert.Equal(2, _feed.AppliedSequence);
        Assert.False(_local.TryGet(hash, out _));
        // What came before the flush can no longer be replayed.
        Assert.True(_feed.Subscribe(1)!.Events.TryRead(out var replay));
        Assert.Equal(WatchEvent.EventOneofCase.Flush, replay.EventCase);
    }

    [Fact]
    public void UnsubscribedWatcherIsSentNothingMore()
    {
        CurrentAt(0);
        var watcher = _feed.Subscribe(0)!;
        Assert.True(watcher.Events.TryRead(out _));

        _feed.Unsubscribe(watcher);
        _feed.TryApply(Invalidation(1));

        Assert.False(watcher.Events.TryRead(out _));
    }

    [Fact]
    public void AProjectInvalidationForgetsAllMemoryAndTellsEveryWatcherToFlushAtItsSequence()
    {
        CurrentAt(0);
        _feed.TryApply(Invalidation(1));
        var announced = 0;
        _feed.Applied += () => announced++;
        var hashes = new[] { NewHash(), NewHash() };
        _local.Set(hashes[0], new KeyRecord { KeyId = "key_of_the_project", ProjectId = "prj_changed" });
        _local.Set(hashes[1], new KeyRecord { KeyId = "key_elsewhere", ProjectId = "prj_other" });
        var watcher = _feed.Subscribe(0)!;
        Assert.True(watcher.Events.TryRead(out _));

        Assert.True(_feed.TryApply(ProjectInvalidation(2, "prj_changed")));
        Assert.True(_feed.TryApply(ProjectInvalidation(2, "prj_changed")));

        // Never passed on as an invalidation: a client would not know what to drop.
        Assert.True(watcher.Events.TryRead(out var flush));
        Assert.Equal((WatchEvent.EventOneofCase.Flush, 2L), (flush.EventCase, flush.Flush.Sequence));
        Assert.False(watcher.Events.TryRead(out _));
        Assert.Equal(2, _feed.AppliedSequence);
        Assert.All(hashes, hash => Assert.False(_local.TryGet(hash, out _)));
        Assert.Equal(1, announced);

        // A client that reconnects from before it is told to flush; one after it is replayed what followed.
        Assert.True(_feed.Subscribe(1)!.Events.TryRead(out var tooOld));
        Assert.Equal((WatchEvent.EventOneofCase.Flush, 2L), (tooOld.EventCase, tooOld.Flush.Sequence));
        Assert.True(_feed.TryApply(Invalidation(3)));
        Assert.True(_feed.TryApply(Invalidation(4)));
        Assert.True(_feed.Subscribe(2)!.Events.TryRead(out var replayed));
        Assert.Equal(3, replayed.Invalidation.Sequence);
    }

    [Fact]
    public void AProjectInvalidationPastTheNextIsRefusedLikeAnyOther()
    {
        CurrentAt(5);
        var hash = NewHash();
        _local.Set(hash, new KeyRecord { KeyId = "key_cached" });

        Assert.False(_feed.TryApply(ProjectInvalidation(7, "prj_changed")));

        Assert.Equal(5, _feed.AppliedSequence);
        Assert.True(_local.TryGet(hash, out _));
    }

    [Fact]
    public void AnInvalidationNamesOneKeyOrOneProjectAndNeverNeitherOrBoth()
    {
        Assert.True(InvalidationFeed.IsWellFormed(Invalidation(1)));
        Assert.True(InvalidationFeed.IsWellFormed(ProjectInvalidation(1, "prj_changed")));

        // What a KeyAdmin that predates project invalidations never sends, and an unknown writer might.
        Assert.False(InvalidationFeed.IsWellFormed(new KeyInvalidation { Sequence = 1 }));
        Assert.False(InvalidationFeed.IsWellFormed(new KeyInvalidation { Sequence = 1, KeyHash = ByteString.CopyFrom(new byte[31]) }));
        var both = Invalidation(1);
        both.ProjectId = "prj_changed";
        Assert.False(InvalidationFeed.IsWellFormed(both));
    }

    private void CurrentAt(long sequence)
    {
        _feed.Flush(sequence);
        Assert.True(_feed.Confirm(sequence));
    }

    private static KeyHash NewHash() => KeyHash.Of(KeyString.Generate(ApiKeyType.Secret));

    private static KeyInvalidation Invalidation(long sequence) => new()
    {
        Sequence = sequence,
        KeyHash = ByteString.CopyFrom(NewHash().ToArray()),
    };

    private static KeyInvalidation ProjectInvalidation(long sequence, string projectId) => new()
    {
        Sequence = sequence,
        ProjectId = projectId,
    };
}
