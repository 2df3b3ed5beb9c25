using System.Diagnostics;
using System.Net;
using Keys.FunctionalTests.Infrastructure;
using Keys.KeyValidation;
using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Keys.FunctionalTests;

/// <summary>
/// A project's new default rate limit reaches every key that follows it. Past KeyAdmin's
/// <c>ProjectInvalidationKeyLimit</c> keys it is one invalidation of the whole project, which every cache applies as a
/// flush: it travels as any invalidation does (pub/sub, and the Changes poll for a replica that missed it), and a large
/// project no longer holds up the invalidations of every other project behind one row per key.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class ProjectDefaultInvalidationTests(KeysAppFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>KeyAdmin's default <c>ProjectInvalidationKeyLimit</c>, which the test system keeps.</summary>
    private const int KeyLimit = 1000;

    private const string OneAnHour = """{"defaultRateLimit": {"limit": 1, "windowSeconds": 3600, "mode": "local"}}""";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    private readonly KeyLifecycle _keys = new(fixture);
    private readonly List<HttpClient> _gateways = [];

    public async Task InitializeAsync()
    {
        _gateways.AddRange((await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))
            .Select(address => new HttpClient { BaseAddress = address }));

        // The first lookups of a system just started can outlast the gateway's deadline on a busy machine (a 503): a
        // key passes every gateway once before a test counts on it.
        var warm = await _keys.NewKeyAsync((await _keys.NewProjectAsync("Warm-up")).Id);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var gateway in _gateways)
        {
            while ((await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", warm.Value), timeout.Token)).StatusCode != HttpStatusCode.OK)
            {
                await Task.Delay(200, timeout.Token);
            }
        }
    }

    public Task DisposeAsync()
    {
        _gateways.ForEach(g => g.Dispose());
        _keys.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ProjectDefaultChangeOverTheLimitReachesEveryGatewayAsOneFlush()
    {
        var project = await _keys.NewProjectAsync("Large default");
        var cached = new[] { await _keys.NewKeyAsync(project.Id), await _keys.NewKeyAsync(project.Id, "publishable", environment: "prod") };
        await SeedKeysAsync(project.Id, KeyLimit);
        foreach (var key in cached)
        {
            await _gateways.EveryGatewayPassesAsync(key.Value);
        }

        var head = await _keys.HeadSequenceAsync();

        await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(project.Id, OneAnHour));

        foreach (var key in cached)
        {
            await _gateways.EveryGatewayRefusesAsync(key.Value, HttpStatusCode.TooManyRequests, "RATE_LIMITED", Bound);
        }

        var change = Assert.Single(await _keys.ChangesSinceAsync(head));
        Assert.Equal((head + 1, project.Id, 0), (change.Sequence, change.ProjectId, change.KeyHash.Length));
        Assert.Equal(1, await OutboxRowsAfterAsync(head));
    }

    [Fact]
    public async Task ADeleteInAnotherProjectIsNotQueuedBehindAProjectDefaultChange()
    {
        // Enough that one row per key would hold the lock that numbers invalidations, and then the relay, for well
        // over the bound on any machine (the old code: UpdateProject 6 s, on a busy one).
        const int following = 50_000;
        var large = await _keys.NewProjectAsync("Fifty thousand keys");
        await SeedKeysAsync(large.Id, following);
        var other = (await _keys.NewProjectAsync("Next door")).Id;
        var key = await _keys.NewKeyAsync(other, name: "deleted-next-door");
        await _gateways.EveryGatewayPassesAsync(key.Value);
        var head = await _keys.HeadSequenceAsync();

        var clock = Stopwatch.StartNew();
        var update = Task.Run(async () =>
        {
            var response = await _keys.PatchProjectAsync(large.Id, OneAnHour);
            return (Response: response, Took: clock.Elapsed);
        });
        // The DELETE goes out while the change holds the lock, if it is ever seen holding it, or as soon as it is done.
        var lockSeen = await AppendLockHeldAsync(update);
        var sent = clock.Elapsed;
        var deleted = await _keys.Rest.DeleteKeyAsync(other, "dev", key.Key.Id, "deleted-next-door");
        var answered = clock.Elapsed;
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);

        // Both gateways at once, each timed from the DELETE's answer, as the revocation bound is (G4, docs/benchmarks.md).
        var refusals = await Task.WhenAll(_gateways.Select(async gateway =>
        {
            var response = await gateway.FirstRejectionAsync("/demo/public/x", key.Value, Bound);
            return (Response: response, At: clock.Elapsed - answered);
        }));
        var (updated, updateTook) = await update;
        // Whatever the machine's speed: at most the change's one row is ahead of the delete's.
        var queuedBehind = (await _keys.ChangesSinceAsync(head)).Single(c => KeyLifecycle.Concerns(c, key.Value)).Sequence - head - 1;

        output.WriteLine(
            $"{following} keys following the default: UpdateProject took {updateTook.TotalMilliseconds:F0} ms; the DELETE next door was sent " +
            $"{(lockSeen ? "while it held the append lock" : "after it")}, {sent.TotalMilliseconds:F0} ms in, answered in " +
            $"{(answered - sent).TotalMilliseconds:F0} ms, with {queuedBehind} of the change's invalidations ahead of its own, and it was first refused by the gateways " +
            $"{string.Join(" and ", refusals.Select(r => $"{r.At.TotalMilliseconds:F0} ms ({(int)r.Response.StatusCode})"))} after its answer");
        await KeyLifecycle.ReadAsync<Project>(updated);
        Assert.InRange(queuedBehind, 0, 1);
        foreach (var (response, _) in refusals)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("TOKEN_REVOKED", (await response.ReadErrorAsync()).Error);
        }
    }

    [Fact]
    public async Task AKeyValidationThatMissedThePublishStillAppliesTheFlushFromItsChangesPoll()
    {
        var project = await _keys.NewProjectAsync("Unpublished default");
        var key = await _keys.NewKeyAsync(project.Id, name: "follows-default");
        await SeedKeysAsync(project.Id, KeyLimit);
        var replicas = (await fixture.GetReplicaAddressesAsync("key-validation", "grpc", replicas: 2)).Select(a => fixture.ServiceChannel(a)).ToList();
        try
        {
            // Cached in both gateways, in each KeyValidation replica's memory and in Redis: a replica that skipped the
            // flush, or a Redis that kept its records, would go on answering with no limit.
            await _gateways.EveryGatewayPassesAsync(key.Value);
            foreach (var replica in replicas.Concat(replicas))
            {
                var answer = await new KeyValidationService.KeyValidationServiceClient(replica).ValidateAsync(new ValidateRequest { Key = key.Value });
                Assert.Equal((ValidationOutcome.Valid, null), (answer.Outcome, answer.RateLimit));
            }

            var head = await _keys.HeadSequenceAsync();
            await using var redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
            var server = redis.GetServer(redis.GetEndPoints()[0]);
            await server.ExecuteAsync("ACL", "SETUSER", "default", "-publish");
            try
            {
                // KeyAdmin cannot publish: no replica hears of the change on the channel.
                var clock = Stopwatch.StartNew();
                await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(project.Id, OneAnHour));

                // A poll interval (1 s) for the replicas to find it, then the bound for the gateways.
                var within = TimeSpan.FromSeconds(3);
                await _gateways.EveryGatewayRefusesAsync(key.Value, HttpStatusCode.TooManyRequests, "RATE_LIMITED", within);
                var limit = new RateLimitRule { Limit = 1, WindowSeconds = 3600, Mode = RateLimitMode.Local };
                foreach (var replica in replicas)
                {
                    Assert.Equal(limit, await RateLimitSeenByAsync(replica, key.Value, limit, within - clock.Elapsed));
                }

                Assert.Equal(0, await OutboxRowsAfterAsync(head, published: true));
            }
            finally
            {
                await server.ExecuteAsync("ACL", "SETUSER", "default", "+publish");
            }
        }
        finally
        {
            replicas.ForEach(r => r.Dispose());
        }
    }

    [Fact]
    public async Task AtTheLimitEachKeyIsInvalidatedOnItsOwnAndOneKeyMoreMakesItOneInvalidationOfTheProject()
    {
        var project = await _keys.NewProjectAsync("At the limit");
        await SeedKeysAsync(project.Id, KeyLimit);
        // Keys that do not follow the default do not count: their own limit, deleted, or revoked at the end of a roll.
        await SeedKeysAsync(project.Id, 5, "rate_limit = 7, rate_limit_window = 1, rate_limit_mode = 'local'");
        await SeedKeysAsync(project.Id, 5, "deleted_at = now(), revokes_at = now()");
        await SeedKeysAsync(project.Id, 5, "revokes_at = now() - interval '1 minute'");
        var head = await _keys.HeadSequenceAsync();

        await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(project.Id, """{"defaultRateLimit": {"limit": 10, "windowSeconds": 60}}"""));

        var each = await _keys.ChangesSinceAsync(head);
        Assert.Equal(KeyLimit, each.Count);
        Assert.Equal(Enumerable.Range(1, KeyLimit).Select(i => head + i), each.Select(c => c.Sequence));
        Assert.All(each, c => Assert.Equal((32, ""), (c.KeyHash.Length, c.ProjectId)));

        await SeedKeysAsync(project.Id, 1);
        head = await _keys.HeadSequenceAsync();

        await KeyLifecycle.ReadAsync<Project>(await _keys.PatchProjectAsync(project.Id, """{"defaultRateLimit": {"limit": 20, "windowSeconds": 60}}"""));

        var whole = Assert.Single(await _keys.ChangesSinceAsync(head));
        Assert.Equal((head + 1, project.Id, 0), (whole.Sequence, whole.ProjectId, whole.KeyHash.Length));
    }

    [Fact]
    public async Task ARedisEpochEndsForAProjectChangeUnlessItStartedAtOrAfterIt()
    {
        // A store under a prefix of its own, so that the running system's epoch is never touched.
        var prefix = $"keys-test:{Guid.NewGuid():N}:";
        await using var redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        var store = new RedisRecordStore(redis, Options.Create(new KeyValidationOptions { RedisKeyPrefix = prefix }));
        var state = await store.ReadEpochAsync();
        Assert.True(await store.StartEpochAsync(state.Epoch, "started-at-ten", state.ServerRunId, watermark: 10));
        var hash = Keys.ApiKeys.KeyHash.Of(Keys.ApiKeys.KeyString.Generate(Keys.ApiKeys.ApiKeyType.Secret));
        Assert.Equal(1, (int)await store.WriteAsync(hash, new KeyRecord { KeyId = "key_default_before" }, asOfSequence: 10, "started-at-ten"));

        // Started at or after the change: every record in it reflects the change already.
        Assert.False(await store.EndEpochBeforeAsync(10));
        Assert.True((await store.TryGetAsync(hash, "started-at-ten")).Found);

        Assert.True(await store.EndEpochBeforeAsync(11));
        Assert.False((await store.ReadEpochAsync()).IsValid);
        Assert.False((await store.TryGetAsync(hash, "started-at-ten")).Found);
        Assert.Equal(0, (int)await store.WriteAsync(hash, new KeyRecord { KeyId = "key_default_before" }, asOfSequence: 10, "started-at-ten"));
    }

    /// <summary>The rate limit one KeyValidation replica answers for the key, once it is <paramref name="wanted"/> or when time is up.</summary>
    private static async Task<RateLimitRule?> RateLimitSeenByAsync(Grpc.Net.Client.GrpcChannel replica, string key, RateLimitRule wanted, TimeSpan within)
    {
        var client = new KeyValidationService.KeyValidationServiceClient(replica);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var seen = (await client.ValidateAsync(new ValidateRequest { Key = key })).RateLimit;
            if (Equals(seen, wanted) || clock.Elapsed >= within)
            {
                return seen;
            }

            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Inserts <paramref name="count"/> secret keys into the project's dev environment straight into Postgres, as
    /// the listing benchmark does (no value exists for them: only their made-up hashes), with <paramref name="set"/>
    /// applied to them afterwards; by default they follow the project's default rate limit.
    /// </summary>
    private async Task SeedKeysAsync(string projectId, int count, string? set = null)
    {
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        var batch = Guid.NewGuid().ToString("N");
        // Two statements: an UPDATE in the INSERT's own statement would not see the rows it inserted.
        await using var insert = new NpgsqlCommand(
            $"""
            INSERT INTO api_key (id, project_id, environment, name, type, scopes, key_hash, masked_key, created_by)
            SELECT 'key_' || substr(md5(@batch || i), 1, 22), @project, 'dev', 'bulk-' || @batch || '-' || i, 'secret', ARRAY[]::text[],
                   sha256(convert_to(@batch || ':' || i, 'UTF8')), 'sk_Bulk…' || lpad((i % 10000)::text, 4, '0'), 'tests'
            FROM generate_series(1, @count) AS i;
            {(set is null ? "" : $"UPDATE api_key SET {set} WHERE project_id = @project AND name LIKE 'bulk-' || @batch || '-%';")}
            """, connection);
        insert.CommandTimeout = 120;
        insert.Parameters.AddWithValue("project", projectId);
        insert.Parameters.AddWithValue("batch", batch);
        insert.Parameters.AddWithValue("count", count);
        await insert.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Watches Postgres's locks until a transaction holds the outbox's append lock (true) or <paramref name="until"/>
    /// is done (false). The lock is KeyAdmin's <c>Outbox.AppendLockId</c>: an advisory lock on a bigint shows as its
    /// high and low 32 bits.
    /// </summary>
    private async Task<bool> AppendLockHeldAsync(Task until)
    {
        const long appendLockId = 0x4B657973_4F757462;
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        await using var held = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = @high AND objid = @low AND objsubid = 1)",
            connection);
        held.Parameters.AddWithValue("high", NpgsqlTypes.NpgsqlDbType.Oid, (uint)(appendLockId >> 32));
        held.Parameters.AddWithValue("low", NpgsqlTypes.NpgsqlDbType.Oid, (uint)(appendLockId & 0xFFFF_FFFF));
        while (!until.IsCompleted)
        {
            if ((bool)(await held.ExecuteScalarAsync())!)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Outbox rows after <paramref name="head"/>: all of them, or only those the relay has published.</summary>
    private async Task<long> OutboxRowsAfterAsync(long head, bool published = false)
    {
        await using var connection = new NpgsqlConnection(await fixture.App.GetConnectionStringAsync("keysdb"));
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand(
            $"SELECT count(*) FROM outbox WHERE sequence > @head{(published ? " AND published_at IS NOT NULL" : "")}", connection);
        count.Parameters.AddWithValue("head", head);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
