using Keys.ApiKeys;
using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.KeyValidation.UnitTests;

public sealed class LocalRecordCacheTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly LocalRecordCache _cache;

    public LocalRecordCacheTests() =>
        _cache = new LocalRecordCache(Options.Create(new KeyValidationOptions { MemoryMaxEntries = 4, NotFoundMaxEntries = 4 }), _time);

    [Fact]
    public void AFloodOfUnknownKeysNeverPushesOutOrKeepsOutARealKey()
    {
        var known = NewHash();
        _cache.Set(known, Record("key_known"));

        for (var i = 0; i < 1_000; i++)
        {
            _cache.Set(NewHash(), null);
        }

        var later = NewHash();
        _cache.Set(later, Record("key_later"));

        Assert.True(_cache.TryGet(known, out var first));
        Assert.Equal("key_known", first.Record!.KeyId);
        Assert.True(_cache.TryGet(later, out var second));
        Assert.Equal("key_later", second.Record!.KeyId);
        Assert.Equal(4, _cache.NotFoundCount);
        Assert.Equal(2, _cache.Count);
    }

    [Fact]
    public void AKeyCreatedAfterANotFoundAnswerMovesOutOfTheNotFoundPart()
    {
        var hash = NewHash();
        _cache.Set(hash, null);
        _cache.Set(hash, Record("key_new"));

        Assert.True(_cache.TryGet(hash, out var entry));
        Assert.NotNull(entry.Record);
        Assert.Equal(0, _cache.NotFoundCount);
    }

    [Fact]
    public void NotFoundAnswersAgeOutSoonerThanRecords()
    {
        var options = new KeyValidationOptions();
        var unknown = NewHash();
        var known = NewHash();
        _cache.Set(unknown, null);
        _cache.Set(known, Record("key_known"));

        _time.Advance(options.NotFoundMaxAge + TimeSpan.FromSeconds(1));
        _cache.Sweep();

        Assert.False(_cache.TryGet(unknown, out _));
        Assert.True(_cache.TryGet(known, out _));
        Assert.Equal(0, _cache.NotFoundCount);
    }

    [Fact]
    public void AnswerForAHashAlreadyHeldIsReplacedEvenWhenItsPartIsFull()
    {
        var hashes = Enumerable.Range(0, 4).Select(_ => NewHash()).ToList();
        hashes.ForEach(hash => _cache.Set(hash, Record("key_old")));

        _cache.Set(hashes[0], Record("key_new"));

        Assert.True(_cache.TryGet(hashes[0], out var entry));
        Assert.Equal("key_new", entry.Record!.KeyId);
        Assert.Equal(4, _cache.Count);
    }

    [Fact]
    public void AnswerPastItsMaximumAgeIsNotServedEvenBeforeTheSweep()
    {
        var hash = NewHash();
        _cache.Set(hash, Record("key_old"));

        _time.Advance(new KeyValidationOptions().MemoryMaxAge + TimeSpan.FromTicks(1));

        Assert.False(_cache.TryGet(hash, out _));
    }

    [Fact]
    public void ClearForgetsRecordsAndNotFoundAnswersAlike()
    {
        var known = NewHash();
        var unknown = NewHash();
        _cache.Set(known, Record("key_known"));
        _cache.Set(unknown, null);

        _cache.Clear();

        Assert.False(_cache.TryGet(known, out _));
        Assert.False(_cache.TryGet(unknown, out _));
        Assert.Equal((0, 0), (_cache.Count, _cache.NotFoundCount));
    }

    private static KeyHash NewHash() => KeyHash.Of(KeyString.Generate(ApiKeyType.Secret));

    private static KeyRecord Record(string keyId) => new() { KeyId = keyId, ProjectId = "prj_x", Environment = "dev", Type = KeyType.Secret };
}
