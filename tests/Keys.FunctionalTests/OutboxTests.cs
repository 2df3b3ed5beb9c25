using System.Net;
using System.Threading.Channels;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using Npgsql;
using StackExchange.Redis;

namespace Keys.FunctionalTests;

/// <summary>Invalidations are written with the change and relayed at least once, whatever Redis is doing.</summary>
public sealed class OutboxTests(FaultsAppFixture fixture) : FaultTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();

    protected override FaultsAppFixture Faults => fixture;

    [Fact]
    public async Task InvalidationWaitsInTheOutboxWhileRedisIsStoppedAndIsPublishedWhenItStartsAgain()
    {
        var project = await _admin.CreateProjectAsync();
        var key = await _admin.CreateKeyAsync(project.Id, "dev", "outlives-redis", "secret");
        var hash = KeyHash.Of(key.Value).ToArray();

        await fixture.StopResourceAsync("redis");
        try
        {
            var deleted = await _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, "outlives-redis");

            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            Assert.Equal(OutboxState.Unpublished, await OutboxStateAsync(hash));
        }
        finally
        {
            await fixture.StartResourceAsync("redis", fixture.RedisAnswersAsync);
        }

        var deadline = DateTime.UtcNow + Patience;
        while (await OutboxStateAsync(hash) != OutboxState.Published && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Equal(OutboxState.Published, await OutboxStateAsync(hash));
    }

    [Fact]
    public async Task RefusedInvalidationsReachSubscribersInSequenceOnceRedisTakesThemAgain()
    {
        var project = await _admin.CreateProjectAsync();
        var keys = new List<CreatedKeyDto>();
        for (var i = 0; i < 3; i++)
        {
            keys.Add(await _admin.CreateKeyAsync(project.Id, "dev", $"refused-{i}", "secret"));
        }

        await using var redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        // A message queue, not a handler: handlers may run concurrently and would reorder what Redis delivered.
        var received = Channel.CreateUnbounded<KeyInvalidation>();
        var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal("keys:invalidations"));
        queue.OnMessage(message => received.Writer.TryWrite(KeyInvalidation.Parser.ParseFrom((byte[])message.Message!)));

        // Redis refuses PUBLISH: KeyAdmin cannot deliver, and must keep the invalidations rather than drop them.
        await redis.GetServer(redis.GetEndPoints()[0]).ExecuteAsync("ACL", "SETUSER", "default", "-publish");
        try
        {
            var refusalsBefore = await RelayRefusalsAsync();
            foreach (var key in keys)
            {
                Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(project.Id, "dev", key.Key.Id, key.Key.Name)).StatusCode);
            }

            // Nothing may arrive once KeyAdmin has tried to publish them, which it says (once per outage).
            var deadline = DateTime.UtcNow + Patience;
            while (await RelayRefusalsAsync() == refusalsBefore && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.True(await RelayRefusalsAsync() > refusalsBefore, "KeyAdmin never said that Redis refused its invalidations.");
            Assert.DoesNotContain(await DrainAsync(received.Reader), i => keys.Any(k => i.KeyHash.Span.SequenceEqual(KeyHash.Of(k.Value).ToArray())));
        }
        finally
        {
            await redis.GetServer(redis.GetEndPoints()[0]).ExecuteAsync("ACL", "SETUSER", "default", "+publish");
        }

        var wanted = keys.Select(k => Convert.ToHexString(KeyHash.Of(k.Value).ToArray())).ToList();
        var delivered = new List<KeyInvalidation>();
        using var timeout = new CancellationTokenSource(Patience);
        while (delivered.Count < wanted.Count)
        {
            var invalidation = await received.Reader.ReadAsync(timeout.Token);
            if (wanted.Contains(Convert.ToHexString(invalidation.KeyHash.Span)))
            {
                delivered.Add(invalidation);
            }
        }

        Assert.Equal(wanted, delivered.Select(i => Convert.ToHexString(i.KeyHash.Span)));
        Assert.Equal([delivered[0].Sequence, delivered[0].Sequence + 1, delivered[0].Sequence + 2], delivered.Select(i => i.Sequence));
    }

    private enum OutboxState
    {
        Missing,
        Unpublished,
        Published,
    }

    private async Task<OutboxState> OutboxStateAsync(byte[] keyHash)
    {
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT published_at IS NOT NULL FROM outbox WHERE key_hash = @hash", connection);
        command.Parameters.AddWithValue("hash", keyHash);
        return await command.ExecuteScalarAsync() switch
        {
            true => OutboxState.Published,
            false => OutboxState.Unpublished,
            _ => OutboxState.Missing,
        };
    }

    /// <summary>How many times KeyAdmin has logged its outbox relay failing (once at the start of each outage).</summary>
    private async Task<int> RelayRefusalsAsync() =>
        (await fixture.ReadLogsByResourceAsync())["key-admin"].Split('\n').Count(line => line.Contains("Outbox relay failed", StringComparison.Ordinal));

    private static async Task<List<KeyInvalidation>> DrainAsync(ChannelReader<KeyInvalidation> reader)
    {
        var items = new List<KeyInvalidation>();
        while (reader.TryRead(out var item))
        {
            items.Add(item);
        }

        await Task.CompletedTask;
        return items;
    }
}
