using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Keys.FunctionalTests;

/// <summary>
/// Issue 16: Keys on a Redis Sentinel deployment survives the loss of its primary. Replication is asynchronous, so the
/// test makes the worst case happen on purpose: the replica that will be promoted misses the invalidation of a key
/// deleted just before the primary is killed, while it still holds that key's record, cached when it was valid.
/// </summary>
[Collection(SentinelCollection.Name)]
public sealed class RedisFailoverTests(SentinelAppFixture fixture, ITestOutputHelper output)
{
    /// <summary>How long a deleted key may still pass anywhere once its DELETE has answered, under any single fault.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    /// <summary>How long a failover may take, from the kill to a valid key passing every gateway again: far above the ~3 s measured.</summary>
    private static readonly TimeSpan FailoverPatience = TimeSpan.FromSeconds(30);

    private const string RedisKeyPrefix = "keys:v1:";

    [Fact]
    public async Task AfterThePrimaryIsKilledValidKeysPassEveryGatewayDeletesStillArriveWithinFiveSecondsAndNoDeletedKeyIsServed()
    {
        var redis = fixture.Redis;
        using (var ready = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await redis.WaitUntilReadyAsync(ready.Token);
        }

        var admin = fixture.CreateKeyAdminClient();
        var gatewayAddresses = await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2);
        var gateways = gatewayAddresses.Select(address => new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) }).ToList();
        var project = await admin.CreateProjectAsync("Redis failover");
        var survivor = await admin.CreateKeyAsync(project.Id, "dev", "survivor", "secret");
        var deletedAtKill = await admin.CreateKeyAsync(project.Id, "dev", "deleted-at-kill", "secret");
        var deletedAfter = await admin.CreateKeyAsync(project.Id, "dev", "deleted-after", "secret");

        // Every key is valid, and so cached everywhere: in each gateway, in KeyValidation's memory, and in Redis, whose
        // replica has the record of the key that is about to be deleted.
        // On a busy machine a replica may still be starting when the first gateway is healthy: the failover is what is
        // measured, so it begins from a system whose every replica serves.
        await WithinAsync(
            KeysHost.StartTimeout,
            async () => await fixture.Host.ReplicasHealthyAsync("key-validation", CancellationToken.None) && await fixture.Host.ReplicasHealthyAsync("gateway", CancellationToken.None),
            "every KeyValidation and gateway replica is healthy");
        foreach (var key in new[] { survivor, deletedAtKill, deletedAfter })
        {
            await WithinAsync(FailoverPatience, () => gateways.EveryGatewayPassesNowAsync(key.Value), $"{key.Key.Name} passes every gateway");
        }

        await using var primary = await redis.ConnectAsync(redis.FirstPrimaryPort);
        await using var replica = await redis.ConnectAsync(redis.FirstReplicaPort);
        var oldEpoch = await EpochAsync(primary);
        Assert.NotNull(oldEpoch);
        var record = (RedisKey)$"{RedisKeyPrefix}record:{oldEpoch}:{Hex(deletedAtKill.Value)}";
        var invalidated = (RedisKey)$"{RedisKeyPrefix}invalidated:{oldEpoch}:{Hex(deletedAtKill.Value)}";
        await WithinAsync(TimeSpan.FromSeconds(10), async () => await replica.GetDatabase().KeyExistsAsync(record), "the record reached the replica");

        // The replica stops replicating (it can no longer log in to its primary) while the key is deleted; once the
        // primary holds the key's invalidation, the primary dies with it, and the replica may log in again.
        await replica.GetServer("127.0.0.1", redis.FirstReplicaPort).ConfigSetAsync("masterauth", "not-the-password");
        await primary.GetServer("127.0.0.1", redis.FirstPrimaryPort).ExecuteAsync("CLIENT", "KILL", "TYPE", "replica");
        await WithinAsync(TimeSpan.FromSeconds(5), async () => !(await ReplicationAsync(replica)).Contains("master_link_status:up", StringComparison.Ordinal), "the replica's link went down");

        var clock = Stopwatch.StartNew();
        await using var probe = new Probe(gatewayAddresses, deletedAtKill.Value, clock);
        await DeleteAsync(admin, project.Id, deletedAtKill);
        var deletedAt = clock.Elapsed;
        await WithinAsync(Bound, async () => await primary.GetDatabase().KeyExistsAsync(invalidated), "the primary holds the invalidation");
        redis.Kill(redis.FirstPrimaryPort);
        var killedAt = clock.Elapsed;
        await replica.GetServer("127.0.0.1", redis.FirstReplicaPort).ConfigSetAsync("masterauth", redis.Password);
        output.WriteLine($"Deleted at {deletedAt.TotalMilliseconds:F0} ms, primary killed at {killedAt.TotalMilliseconds:F0} ms.");

        // The attack happened: the server about to be promoted still has the deleted key's record, and no invalidation.
        Assert.True(await replica.GetDatabase().KeyExistsAsync(record), "The replica lost the record: the failover would not test stale records.");
        Assert.False(await replica.GetDatabase().KeyExistsAsync(invalidated), "The replica received the invalidation: the failover would not test stale records.");

        await WithinAsync(FailoverPatience, async () => await redis.PrimaryPortAsync() == redis.FirstReplicaPort, "the Sentinels promoted the replica");
        var promotedAt = clock.Elapsed;

        // Validation goes on: the key that was never touched passes every gateway again, and so does a new one.
        await WithinAsync(FailoverPatience, () => gateways.EveryGatewayPassesNowAsync(survivor.Value), "the survivor passes every gateway");
        var survivorBackAt = clock.Elapsed;
        var created = await admin.CreateKeyAsync(project.Id, "dev", "created-after", "secret");
        await WithinAsync(FailoverPatience, () => gateways.EveryGatewayPassesNowAsync(created.Value), "a key created after the failover passes every gateway");

        // A key deleted after the failover is refused everywhere within the bound.
        await DeleteAsync(admin, project.Id, deletedAfter);
        var deletedAfterAt = clock.Elapsed;
        await gateways.EveryGatewayRefusesAsync(deletedAfter.Value, HttpStatusCode.Unauthorized, "TOKEN_REVOKED", Bound);
        var refusedAfterIn = clock.Elapsed - deletedAfterAt;

        // The key deleted at the kill is asked about until KeyValidation's memory has forgotten its answer several times
        // over, so that lookups reach the promoted server, which holds the key's record from when it was valid.
        var probedUntil = survivorBackAt + (3 * SentinelAppFixture.MemoryMaxAge);
        if (clock.Elapsed < probedUntil)
        {
            await Task.Delay(probedUntil - clock.Elapsed);
        }

        var answers = await probe.StopAsync();
        output.WriteLine(
            $"Sentinels promoted the replica {(promotedAt - killedAt).TotalSeconds:F1} s after the kill; the survivor passed every gateway " +
            $"{(survivorBackAt - killedAt).TotalSeconds:F1} s after it; a delete after the failover was refused everywhere in " +
            $"{refusedAfterIn.TotalMilliseconds:F0} ms; {answers.Count} probes of the key deleted at the kill: " +
            string.Join(", ", answers.GroupBy(a => a.Status).Select(g => $"{g.Count()} × {(int)g.Key}")));
        var firstRefusals = answers.Where(a => a.Status != HttpStatusCode.OK).GroupBy(a => a.Gateway).ToDictionary(g => g.Key, g => g.Min(a => a.At));
        Assert.Equal(gateways.Count, firstRefusals.Count);
        Assert.All(firstRefusals.Values, at => Assert.True(at - deletedAt < Bound, $"First refused {(at - deletedAt).TotalMilliseconds:F0} ms after the delete."));
        var servedAgain = answers.Where(a => a.Status == HttpStatusCode.OK && a.At > firstRefusals[a.Gateway]).ToList();
        Assert.True(
            servedAgain.Count == 0,
            $"The key deleted just before the kill was served again {servedAgain.Count} times after it had been refused, first at " +
            $"{servedAgain.FirstOrDefault()?.At.TotalMilliseconds:F0} ms (killed at {killedAt.TotalMilliseconds:F0} ms).");

        // KeyValidation follows the new primary: it started an epoch there, and listens to invalidations on it.
        await WithinAsync(FailoverPatience, async () => await EpochAsync(replica) is { } epoch && epoch != oldEpoch, "a new epoch on the promoted server");
        await WithinAsync(FailoverPatience, async () => await SubscribersAsync(replica) >= 2, "both KeyValidation replicas subscribed on the promoted server");
    }

    private static async Task DeleteAsync(KeyAdminClient admin, string projectId, CreatedKeyDto key)
    {
        var response = await admin.DeleteKeyAsync(projectId, "dev", key.Key.Id, key.Key.Name);
        Assert.True(response.IsSuccessStatusCode, $"DELETE answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task WithinAsync(TimeSpan limit, Func<Task<bool>> condition, string what)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await KeysHost.UntilAsync(async _ => await condition(), timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Assert.Fail($"Not within {limit.TotalSeconds:F0} s: {what}.");
        }
    }

    private static async Task<string?> EpochAsync(ConnectionMultiplexer server)
    {
        try
        {
            var epoch = await server.GetDatabase().HashGetAsync(RedisKeyPrefix + "state", "epoch");
            return epoch.IsNull ? null : (string?)epoch;
        }
        catch (RedisException)
        {
            return null;
        }
    }

    private static async Task<long> SubscribersAsync(ConnectionMultiplexer server)
    {
        var result = (RedisResult[])(await server.GetServer(server.GetEndPoints()[0]).ExecuteAsync("PUBSUB", "NUMSUB", "keys:invalidations"))!;
        return (long)result[1];
    }

    private static async Task<string> ReplicationAsync(ConnectionMultiplexer server) =>
        await server.GetServer(server.GetEndPoints()[0]).InfoRawAsync("replication") ?? "";

    private static string Hex(string key) => Convert.ToHexStringLower(KeyHash.Of(key).ToArray());

    private sealed record Answer(int Gateway, TimeSpan At, HttpStatusCode Status);

    /// <summary>
    /// Asks every gateway about a key, over and over, until stopped: what each answered, and when. From addresses of
    /// its own, spread so that the gateways' throttle of unknown keys (a deleted key is one) never answers for them.
    /// </summary>
    private sealed class Probe : IAsyncDisposable
    {
        private const int ProbeSubnet = 40;
        private const int AddressesPerGateway = 32;

        private readonly ConcurrentQueue<Answer> _answers = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly List<LoopbackClientPool> _pools;
        private readonly List<Task> _loops;

        public Probe(IReadOnlyList<Uri> gateways, string key, Stopwatch clock)
        {
            _pools = [.. gateways.Select((address, i) => new LoopbackClientPool(address, LoopbackClients.Addresses(ProbeSubnet + i, AddressesPerGateway)))];
            _loops = [.. _pools.Select((pool, i) => Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        var response = await pool.Next().SendAsync(GatewayResponses.Get("/demo/public/x", key), _stop.Token);
                        _answers.Enqueue(new Answer(i, clock.Elapsed, response.StatusCode));
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(25), CancellationToken.None);
                }
            }))];
        }

        public async Task<IReadOnlyList<Answer>> StopAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync();
                await Task.WhenAll(_loops);
            }

            return [.. _answers];
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
            _pools.ForEach(p => p.Dispose());
        }
    }
}
