using Keys.ApiKeys;
using Keys.AspNetCore.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>The near cache follows the Watch stream strictly in sequence, and refuses anything out of step.</summary>
public sealed class NearCacheTests
{
    private static readonly TimeSpan MaxAge = new ApiKeyValidationOptions().NearCacheMaxAge;

    private readonly FakeTimeProvider _time = new();
    private readonly NearCache _cache;
    private readonly string _key = KeyString.Generate(ApiKeyType.Secret);

    public NearCacheTests() => _cache = new NearCache(Options.Create(new ApiKeyValidationOptions()), _time);

    [Fact]
    public void FirstHeartbeatConnectsTheCacheAtItsSequence()
    {
        Assert.False(_cache.IsConnected);

        Assert.True(_cache.TryHeartbeat(41));

        Assert.True(_cache.IsConnected);
        Assert.Equal(41, _cache.Sequence);
    }

    [Fact]
    public void NextInvalidationDropsItsKey()
    {
        ConnectedWithTheKeyCachedAt(10);

        Assert.True(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 11));

        Assert.False(_cache.TryGet(_key, out _));
        Assert.Equal(11, _cache.Sequence);
    }

    [Fact]
    public void InvalidationThatRevokesACachedKeyKeepsItToRefuseFromThatTime()
    {
        ConnectedWithTheKeyCachedAt(10);
        var revokesAt = DateTimeOffset.UtcNow.UtcTicks;

        Assert.True(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 11, revokesAt));

        Assert.True(_cache.TryGet(_key, out var known));
        Assert.Equal(revokesAt, known.RevokesAtTicks);
    }

    [Fact]
    public void RevocationsOnlyComeCloser()
    {
        ConnectedWithTheKeyCachedAt(10);
        var revokesAt = DateTimeOffset.UtcNow.UtcTicks;
        Assert.True(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 11, revokesAt));

        Assert.True(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 12, revokesAt + TimeSpan.TicksPerHour));

        Assert.True(_cache.TryGet(_key, out var known));
        Assert.Equal(revokesAt, known.RevokesAtTicks);
    }

    [Fact]
    public void InvalidationThatSkipsASequenceIsRefusedAndChangesNothing()
    {
        ConnectedWithTheKeyCachedAt(10);

        Assert.False(_cache.TryInvalidate(KeyHash.Of(KeyString.Generate(ApiKeyType.Secret)).ToArray(), 12));
        Assert.False(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 10));

        Assert.Equal(10, _cache.Sequence);
    }

    [Fact]
    public void HeartbeatOutOfStepWithTheCacheIsRefused()
    {
        ConnectedWithTheKeyCachedAt(10);

        Assert.False(_cache.TryHeartbeat(11));
        Assert.False(_cache.TryHeartbeat(9));
        Assert.True(_cache.TryHeartbeat(10));
    }

    [Fact]
    public void InvalidationBeforeAnyHeartbeatIsRefused()
    {
        Assert.False(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 1));
    }

    [Fact]
    public void FlushFromTheServerEmptiesTheCacheAndCarriesOnFromItsSequence()
    {
        ConnectedWithTheKeyCachedAt(10);

        _cache.Reset(500);

        Assert.False(_cache.TryGet(_key, out _));
        Assert.True(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 501));
    }

    [Fact]
    public void AnswerOlderThanAnAppliedInvalidationIsNotCached()
    {
        Assert.True(_cache.TryHeartbeat(10));
        Assert.True(_cache.TryInvalidate(KeyHash.Of(KeyString.Generate(ApiKeyType.Secret)).ToArray(), 11));

        _cache.Add(_key, new ValidateResponse { AsOfSequence = 10 }, ApiKeyType.Secret);

        Assert.False(_cache.TryGet(_key, out _));
    }

    [Fact]
    public void DroppedStreamEmptiesTheCacheAndItServesNothingUntilAHeartbeat()
    {
        ConnectedWithTheKeyCachedAt(10);

        _cache.Flush();

        Assert.False(_cache.IsConnected);
        Assert.False(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 11));
        _cache.Add(_key, new ValidateResponse { AsOfSequence = 10 }, ApiKeyType.Secret);
        Assert.True(_cache.TryHeartbeat(10));
        Assert.False(_cache.TryGet(_key, out _));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    public void EntryIsServedUpToItsMaximumAgeAndNotAfterEvenBeforeTheSweep(long ticksPastMaxAge, bool served)
    {
        ConnectedWithTheKeyCachedAt(10);

        _time.Advance(MaxAge + TimeSpan.FromTicks(ticksPastMaxAge));

        Assert.Equal(served, _cache.TryGet(_key, out _));
    }

    [Fact]
    public void SweepDropsOnlyEntriesPastTheirMaximumAge()
    {
        ConnectedWithTheKeyCachedAt(10);
        _time.Advance(MaxAge);
        var younger = KeyString.Generate(ApiKeyType.Publishable);
        _cache.Add(younger, new ValidateResponse { AsOfSequence = 10 }, ApiKeyType.Publishable);
        _time.Advance(TimeSpan.FromTicks(1));

        _cache.Sweep();

        Assert.True(_cache.TryGet(younger, out _));
        // Swept, so an invalidation naming the old key finds nothing to keep.
        Assert.True(_cache.TryInvalidate(KeyHash.Of(_key).ToArray(), 11, _time.GetUtcNow().UtcTicks));
        Assert.False(_cache.TryGet(_key, out _));
    }

    private void ConnectedWithTheKeyCachedAt(long sequence)
    {
        Assert.True(_cache.TryHeartbeat(sequence));
        _cache.Add(_key, new ValidateResponse { AsOfSequence = sequence }, ApiKeyType.Secret);
        Assert.True(_cache.TryGet(_key, out _));
    }
}
