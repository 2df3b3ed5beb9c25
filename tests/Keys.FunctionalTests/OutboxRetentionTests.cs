using System.Net;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using Npgsql;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Keys.FunctionalTests;

/// <summary>
/// Issue 16, bounded history: the outbox is pruned after its retention (two seconds here), sequences never restart,
/// <c>Changes</c> from below what is kept says CHANGES_TOO_OLD, and a KeyValidation that missed pruned invalidations
/// flushes rather than serve what Redis still holds.
/// </summary>
[Collection(RetentionCollection.Name)]
public sealed class OutboxRetentionTests(RetentionAppFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>How long the pruner (every second, two seconds' retention) is given to take a row.</summary>
    private static readonly TimeSpan PrunePatience = TimeSpan.FromSeconds(30);

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly List<HttpClient> _gateways = [];

    public async Task InitializeAsync() =>
        _gateways.AddRange((await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))
            .Select(address => new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) }));

    public async Task DisposeAsync()
    {
        _gateways.ForEach(g => g.Dispose());
        await fixture.RecoverAsync();
    }

    /// <summary>
    /// The dangerous restart: every KeyValidation is down when a key is deleted, its invalidation is pruned before they
    /// are back, and Redis still holds the key's record under an epoch whose watermark predates the delete. Catching up
    /// from that watermark over what the outbox still holds would skip the delete; the replicas must flush instead.
    /// </summary>
    [Fact]
    public async Task KeyDeletedWhileEveryKeyValidationWasDownAndPrunedBeforeTheyCameBackIsRefusedAtEveryGateway()
    {
        var project = await _admin.CreateProjectAsync("Pruned while away");
        var doomed = await _admin.CreateKeyAsync(project.Id, "dev", "doomed", "secret");
        var live = await _admin.CreateKeyAsync(project.Id, "dev", "live", "secret");
        var doomedHash = KeyHash.Of(doomed.Value).ToArray();
        await _gateways.EveryGatewayPassesAsync(doomed.Value);
        await _gateways.EveryGatewayPassesAsync(live.Value);
        Assert.True(await RedisHoldsRecordAsync(doomedHash), "Redis never cached the doomed key's record: the test would prove nothing.");

        var replicas = await fixture.GetReplicaIdsAsync("key-validation", 2);
        foreach (var replica in replicas)
        {
            await fixture.StopResourceAsync("key-validation", replica);
        }

        Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", doomed.Key.Id, "doomed")).StatusCode);

        // A later change, so that the delete's row is not the newest one, which is never pruned.
        var filler = await _admin.CreateKeyAsync(project.Id, "dev", "filler", "secret");
        Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", filler.Key.Id, "filler")).StatusCode);
        await UntilAsync(async () => !await OutboxHoldsAsync(doomedHash), "the delete's outbox row was never pruned");
        Assert.True(await RedisHoldsRecordAsync(doomedHash), "Redis no longer holds the doomed key's record: nothing stale is left to serve.");

        await fixture.StartResourceAsync("key-validation", replicaIds: replicas);

        // Serving again (a live key passes everywhere), and then the deleted key is refused everywhere.
        await UntilAsync(() => _gateways.EveryGatewayPassesNowAsync(live.Value), "the live key did not pass every gateway again");
        await _gateways.EveryGatewayRefusesAsync(doomed.Value, HttpStatusCode.Unauthorized, "TOKEN_REVOKED", TimeSpan.FromSeconds(5));

        // And again, from whatever the gateways and KeyValidation cached meanwhile.
        await _gateways.EveryGatewayRefusesAsync(doomed.Value, HttpStatusCode.Unauthorized, "TOKEN_REVOKED", TimeSpan.Zero);
        await _gateways.EveryGatewayPassesAsync(live.Value);
        var logs = (await fixture.ReadLogsByResourceAsync())["key-validation"];
        output.WriteLine(string.Join('\n', logs.Split('\n').Where(l => l.Contains("KeyAdmin keeps only", StringComparison.Ordinal) || l.Contains("no longer holds", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task SequencesKeepRisingAfterEveryOutboxRowButTheNewestIsPruned()
    {
        var project = await _admin.CreateProjectAsync("Sequences after pruning");
        var first = await _admin.CreateKeyAsync(project.Id, "dev", "first", "secret");
        Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", first.Key.Id, "first")).StatusCode);

        // Everything older than two seconds goes, but the newest row, even once it is older too and the pruner has
        // passed over it again and again.
        await UntilAsync(async () => (await OutboxBoundsAsync()).Count <= 1, "the outbox was never pruned down to its newest row");
        var newestBefore = (await OutboxBoundsAsync()).Newest;
        await Task.Delay(RetentionAppFixture.Retention + TimeSpan.FromSeconds(3));
        var (count, oldest, newest) = await OutboxBoundsAsync();
        Assert.Equal((1L, newestBefore, newestBefore), (count, oldest, newest));
        var head = (await InternalClient().ChangesAsync(new ChangesRequest { SinceSequence = newest, Limit = 1 })).HeadSequence;
        Assert.Equal(newest, head);

        var second = await _admin.CreateKeyAsync(project.Id, "dev", "second", "secret");
        Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", second.Key.Id, "second")).StatusCode);

        var after = await InternalClient().ChangesAsync(new ChangesRequest { SinceSequence = head });
        Assert.NotEmpty(after.Changes);
        Assert.Equal(head + 1, after.Changes[0].Sequence);
        var deleted = Assert.Single(after.Changes, c => c.KeyHash.Span.SequenceEqual(KeyHash.Of(second.Value).ToArray()));
        Assert.True(deleted.Sequence > head, $"The delete after pruning was numbered {deleted.Sequence}, not above the head {head}.");
    }

    [Fact]
    public async Task ChangesAskedFromBelowWhatThePrunerKeptAnswersFailedPreconditionChangesTooOld()
    {
        var project = await _admin.CreateProjectAsync("Changes too old");
        for (var i = 0; i < 2; i++)
        {
            var key = await _admin.CreateKeyAsync(project.Id, "dev", $"gone-{i}", "secret");
            Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, key.Key.Name)).StatusCode);
        }

        await UntilAsync(async () => (await OutboxBoundsAsync()).Count <= 1, "the outbox was never pruned down to its newest row");
        var (_, oldest, head) = await OutboxBoundsAsync();
        Assert.True(oldest > 2, $"Nothing below {oldest} was pruned.");
        var client = InternalClient();

        var refusal = await Assert.ThrowsAsync<RpcException>(async () => await client.ChangesAsync(new ChangesRequest { SinceSequence = oldest - 2 }));
        Assert.Equal(StatusCode.FailedPrecondition, refusal.StatusCode);
        var info = refusal.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal(("CHANGES_TOO_OLD", "keys.v1"), (info.Reason, info.Domain));
        Assert.Equal(oldest.ToString(System.Globalization.CultureInfo.InvariantCulture), info.Metadata["oldest_sequence"]);
        Assert.Equal(head.ToString(System.Globalization.CultureInfo.InvariantCulture), info.Metadata["head_sequence"]);
        Assert.Equal(StatusCode.FailedPrecondition, (await Assert.ThrowsAsync<RpcException>(async () => await client.ChangesAsync(new ChangesRequest { SinceSequence = 0 }))).StatusCode);

        // From just below the oldest row kept, nothing is missing: answered, starting with that row.
        var whole = await client.ChangesAsync(new ChangesRequest { SinceSequence = oldest - 1 });
        Assert.Equal(oldest, whole.Changes[0].Sequence);
        Assert.Equal(head, whole.HeadSequence);
        Assert.Empty((await client.ChangesAsync(new ChangesRequest { SinceSequence = head })).Changes);
    }

    private KeyAdminInternalService.KeyAdminInternalServiceClient InternalClient() => fixture.CreateKeyAdminInternalClient(out _);

    private static async Task UntilAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow + PrunePatience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{failure} within {PrunePatience.TotalSeconds} s.");
            await Task.Delay(200);
        }
    }

    private async Task<NpgsqlConnection> OpenDatabaseAsync()
    {
        var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        return connection;
    }

    private async Task<bool> OutboxHoldsAsync(byte[] keyHash)
    {
        await using var connection = await OpenDatabaseAsync();
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM outbox WHERE key_hash = @hash)", connection);
        command.Parameters.AddWithValue("hash", keyHash);
        return await command.ExecuteScalarAsync() is true;
    }

    private async Task<(long Count, long Oldest, long Newest)> OutboxBoundsAsync()
    {
        await using var connection = await OpenDatabaseAsync();
        await using var command = new NpgsqlCommand("SELECT count(*), coalesce(min(sequence), 0), coalesce(max(sequence), 0) FROM outbox", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    /// <summary>Whether Redis holds a record for the hash under any epoch (<c>keys:v1:record:&lt;epoch&gt;:&lt;sha256&gt;</c>).</summary>
    private async Task<bool> RedisHoldsRecordAsync(byte[] keyHash)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        await foreach (var _ in server.KeysAsync(pattern: $"keys:v1:record:*:{Convert.ToHexStringLower(keyHash)}"))
        {
            return true;
        }

        return false;
    }
}
