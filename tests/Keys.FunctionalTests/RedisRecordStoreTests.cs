using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.KeyValidation;
using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.FunctionalTests;

/// <summary>
/// The guard against the load-versus-invalidate race, on the real Redis: a record whose snapshot predates an
/// applied invalidation is never written back, whichever replica loaded it.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class RedisRecordStoreTests(KeysAppFixture fixture) : IAsyncLifetime
{
    private ConnectionMultiplexer _redis = null!;
    private RedisRecordStore _store = null!;

    public async Task InitializeAsync()
    {
        _redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        _store = new RedisRecordStore(_redis, Options.Create(new KeyValidationOptions { AdminToken = "unused" }));
    }

    [Fact]
    public async Task RecordLoadedBeforeAnInvalidationIsNotWrittenAfterIt()
    {
        var hash = NewHash();
        var record = new KeyRecord { KeyId = "key_loaded_before_delete" };

        await _store.InvalidateAsync(hash, sequence: 1_000_006, advanceWatermark: false);
        var written = (int)await _store.WriteAsync(hash, record, asOfSequence: 1_000_005);

        Assert.Equal(0, written);
        Assert.False((await _store.TryGetAsync(hash)).Found);
    }

    [Fact]
    public async Task RecordLoadedAfterTheInvalidationIsWritten()
    {
        var hash = NewHash();
        var record = new KeyRecord { KeyId = "key_loaded_after_delete" };

        await _store.InvalidateAsync(hash, sequence: 2_000_006, advanceWatermark: false);
        var written = (int)await _store.WriteAsync(hash, record, asOfSequence: 2_000_006);

        Assert.Equal(1, written);
        var (found, cached) = await _store.TryGetAsync(hash);
        Assert.True(found);
        Assert.Equal("key_loaded_after_delete", cached!.KeyId);
    }

    [Fact]
    public async Task InvalidationDropsTheCachedRecord()
    {
        var hash = NewHash();
        await _store.WriteAsync(hash, new KeyRecord { KeyId = "key_cached" }, asOfSequence: 0);
        Assert.True((await _store.TryGetAsync(hash)).Found);

        await _store.InvalidateAsync(hash, sequence: 3_000_001, advanceWatermark: false);

        Assert.False((await _store.TryGetAsync(hash)).Found);
    }

    [Fact]
    public async Task NoSuchKeyIsCachedAsAnEmptyAnswer()
    {
        var hash = NewHash();

        await _store.WriteAsync(hash, record: null, asOfSequence: 0);

        var (found, cached) = await _store.TryGetAsync(hash);
        Assert.True(found);
        Assert.Null(cached);
    }

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private static KeyHash NewHash() => KeyHash.Of(KeyString.Generate(ApiKeyType.Secret));
}
