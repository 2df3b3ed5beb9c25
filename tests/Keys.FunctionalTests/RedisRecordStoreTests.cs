using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.KeyValidation;
using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Keys.FunctionalTests;

/// <summary>
/// The guards against stale records, on the real Redis: a record whose snapshot predates an applied invalidation is
/// never written back, whichever replica loaded it, and nothing loaded in an earlier epoch (before Redis lost its
/// state) can be read or written back in a later one. The store works under a key prefix of its own, so that its
/// epochs and watermark never touch the running system's.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class RedisRecordStoreTests(KeysAppFixture fixture) : IAsyncLifetime
{
    private ConnectionMultiplexer _redis = null!;
    private RedisRecordStore _store = null!;
    private readonly string _prefix = $"keys-test:{Guid.NewGuid():N}:";
    private string _epoch = null!;

    public async Task InitializeAsync()
    {
        _redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        _store = new RedisRecordStore(_redis, Options.Create(new KeyValidationOptions
        {
            RedisKeyPrefix = _prefix,
        }));
        _epoch = await StartEpochAsync();
    }

    [Fact]
    public async Task RecordsOfAnEarlierEpochCanNeitherBeReadNorWrittenBack()
    {
        var hash = NewHash();
        var record = new KeyRecord { KeyId = "key_from_before_the_restart" };
        Assert.Equal(1, (int)await _store.WriteAsync(hash, record, asOfSequence: 0, _epoch));

        var next = await StartEpochAsync();

        Assert.False((await _store.TryGetAsync(hash, _epoch)).Found);
        Assert.Equal(0, (int)await _store.WriteAsync(hash, record, asOfSequence: 0, _epoch));
        Assert.False(await _store.InvalidateAsync(hash, sequence: 1, _epoch));
        Assert.False((await _store.TryGetAsync(hash, next)).Found);
    }

    [Fact]
    public async Task NothingCanBeWrittenOnceRedisHasLostItsEpoch()
    {
        var hash = NewHash();
        // What a restart of a Redis without persistence, or FLUSHALL, leaves of the state.
        await _redis.GetDatabase().KeyDeleteAsync(_prefix + "state");

        Assert.False((await _store.ReadEpochAsync()).IsValid);
        Assert.Equal(0, (int)await _store.WriteAsync(hash, new KeyRecord { KeyId = "key_after_flush" }, asOfSequence: 0, _epoch));
        Assert.False((await _store.TryGetAsync(hash, _epoch)).Found);
    }

    [Fact]
    public async Task ANewEpochIsRefusedWhenAnotherWasStartedFirst()
    {
        var seen = (await _store.ReadEpochAsync()).Epoch;
        var winner = await StartEpochAsync();

        Assert.False(await _store.StartEpochAsync(seen, "latecomer", (await _store.ReadEpochAsync()).ServerRunId, watermark: 7));
        var state = await _store.ReadEpochAsync();
        Assert.Equal(winner, state.Epoch);
        Assert.True(state.IsValid);
    }

    [Fact]
    public async Task EpochStartedOnAnotherServerIsNotValidAndTakesNoWrites()
    {
        // What a snapshot reloaded after a restart, or a replica promoted in a failover, would bring back.
        var hash = NewHash();
        var state = await _store.ReadEpochAsync();
        Assert.True(await _store.StartEpochAsync(state.Epoch, "restored", runId: "0000000000000000000000000000000000000000", watermark: 0));

        Assert.False((await _store.ReadEpochAsync()).IsValid);
        Assert.Equal(0, (int)await _store.WriteAsync(hash, new KeyRecord { KeyId = "key_in_a_restored_epoch" }, asOfSequence: 0, "restored"));
        Assert.False(await _store.InvalidateAsync(hash, sequence: 1, "restored"));
        Assert.False((await _store.TryGetAsync(hash, "restored")).Found);
    }

    [Fact]
    public async Task RecordLoadedBeforeAnInvalidationIsNotWrittenAfterIt()
    {
        var hash = NewHash();
        var record = new KeyRecord { KeyId = "key_loaded_before_delete" };

        Assert.True(await _store.InvalidateAsync(hash, sequence: 1_000_006, _epoch));
        var written = (int)await _store.WriteAsync(hash, record, asOfSequence: 1_000_005, _epoch);

        Assert.Equal(0, written);
        Assert.False((await _store.TryGetAsync(hash, _epoch)).Found);
    }

    [Fact]
    public async Task RecordLoadedAfterTheInvalidationIsWritten()
    {
        var hash = NewHash();
        var record = new KeyRecord { KeyId = "key_loaded_after_delete" };

        Assert.True(await _store.InvalidateAsync(hash, sequence: 2_000_006, _epoch));
        var written = (int)await _store.WriteAsync(hash, record, asOfSequence: 2_000_006, _epoch);

        Assert.Equal(1, written);
        Assert.Equal(2_000_006, (await _store.ReadEpochAsync()).Watermark);
        var (found, cached) = await _store.TryGetAsync(hash, _epoch);
        Assert.True(found);
        Assert.Equal("key_loaded_after_delete", cached!.KeyId);
    }

    [Fact]
    public async Task InvalidationDropsTheCachedRecord()
    {
        var hash = NewHash();
        await _store.WriteAsync(hash, new KeyRecord { KeyId = "key_cached" }, asOfSequence: 0, _epoch);
        Assert.True((await _store.TryGetAsync(hash, _epoch)).Found);

        await _store.InvalidateAsync(hash, sequence: 3_000_001, _epoch);

        Assert.False((await _store.TryGetAsync(hash, _epoch)).Found);
    }

    [Fact]
    public async Task NoSuchKeyIsCachedAsAnEmptyAnswer()
    {
        var hash = NewHash();

        await _store.WriteAsync(hash, record: null, asOfSequence: 0, _epoch);

        var (found, cached) = await _store.TryGetAsync(hash, _epoch);
        Assert.True(found);
        Assert.Null(cached);
    }

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private async Task<string> StartEpochAsync()
    {
        var state = await _store.ReadEpochAsync();
        var epoch = Guid.NewGuid().ToString("N")[..16];
        Assert.True(await _store.StartEpochAsync(state.Epoch, epoch, state.ServerRunId, watermark: 0));
        return epoch;
    }

    private static KeyHash NewHash() => KeyHash.Of(KeyString.Generate(ApiKeyType.Secret));
}
