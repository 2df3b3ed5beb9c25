using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Keys.ApiKeys;
using Keys.V1;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Keys.Benchmarks;

/// <summary>
/// G6, a million keys: seeded straight into Postgres, then Validate of 50,000 hot keys from cold caches on two
/// KeyValidation replicas at once (KeyAdmin lookups per key: single flight across replicas), memory of the gateway and
/// KeyValidation after 1,000,000 distinct keys against what their caps predict, Redis memory per cached key, and
/// ListKeys deep in a 100,000-key environment. Runs on a system of its own when the shared one has one replica.
/// </summary>
public static class ScaleBenchmark
{
    private const int TotalKeys = 1_000_000;
    private const int LargeEnvironmentKeys = 100_000;
    private const int Projects = 90;
    private const int HotKeys = 50_000;
    private const int Concurrency = 24;

    // The gateway pass stops here if it has not reached a million keys: the run must stay within minutes on a busy box,
    // and the caps are reached after 100,000; the row says how many were touched.
    private static readonly TimeSpan TouchBudget = TimeSpan.FromSeconds(150);

    // The caps' defaults, which this system keeps (KeyValidationOptions, ApiKeyValidationOptions).
    private const int KeyValidationMemoryMaxEntries = 100_000;
    private const int KeyValidationNotFoundMaxEntries = 10_000;
    private const int GatewayNearCacheMaxEntries = 100_000;

    // A cap bounds entries, not what the GC keeps around them: RSS may exceed baseline + cap × bytes per entry by this.
    private const double RssSlack = 1.5;

    public static async Task<IEnumerable<Row>> RunAsync(KeysHost shared)
    {
        var own = shared.ReplicaCount("key-validation") >= 2 ? null : await StartAsync();
        try
        {
            return await RunOnAsync(own ?? shared);
        }
        finally
        {
            if (own is not null)
            {
                await own.DisposeAsync();
            }
        }
    }

    private static async Task<KeysHost> StartAsync()
    {
        Progress("starting a system with 2 KeyValidation replicas");
        var system = await KeysHost.StartAsync(new KeysHostOptions
        {
            Name = "bench-scale",
            CallerName = "bench",
            EnvironmentName = "Production",
            KeyValidationReplicas = 2,
            Environment =
            [
                ("gateway", "ApiKeys__InvalidKeyLimit", int.MaxValue.ToString(CultureInfo.InvariantCulture)),

                // A million last-used reports would measure KeyAdmin's writes, not the caches.
                ("key-validation", "KeyValidation__UsageFlushInterval", "01:00:00"),
            ],
        });
        Progress($"started; resource logs in {system.Logs.RelativePath}");
        return system;
    }

    private static async Task<IEnumerable<Row>> RunOnAsync(KeysHost system)
    {
        var rows = new List<Row>();
        await using var postgres = new NpgsqlConnection(await system.App.GetConnectionStringAsync("keysdb"));
        await postgres.OpenAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync((await system.App.GetConnectionStringAsync("redis"))! + ",allowAdmin=true");

        // Seed.
        Progress($"seeding {TotalKeys:N0} keys into Postgres (binary COPY)");
        var (keys, seedSeconds) = await SeedAsync(system, postgres);
        rows.Add(new($"Seed {TotalKeys:N0} keys ({Projects + 1} projects, one environment of {LargeEnvironmentKeys:N0}), binary COPY", "-",
            $"{TotalKeys / seedSeconds:N0} keys/s ({seedSeconds:F0} s)", "-", "(shown)", true));

        // Hot keys from cold caches, on both replicas at once.
        var replicas = await system.ReplicaAddressesAsync("key-validation", "grpc");
        var channels = replicas.Select(a => system.ServiceChannel(a)).ToList();
        var clients = channels.Select(c => new KeyValidationService.KeyValidationServiceClient(c)).ToList();
        var kvPids = await ReplicaPidsAsync(system, "key-validation");
        var gatewayPid = await system.ProcessIdAsync("gateway");
        var kvRssBefore = kvPids.Max(Rss);
        var redisBefore = await RedisUsedAsync(redis);
        var lookupsBefore = await HashLookupsAsync(postgres);

        Progress($"validating {HotKeys:N0} hot keys from cold caches, each on both replicas at once");
        var hot = keys.Take(HotKeys).ToList();
        var cold = await PassAsync(hot, key => Task.WhenAll(clients.Select(c => ValidOrThrowAsync(c, key))), report: true);
        var lookups = await HashLookupsAsync(postgres) - lookupsBefore;
        var coldRetries = Interlocked.Exchange(ref _retries, 0);
        var redisAfter = await RedisUsedAsync(redis);
        var kvRssHot = kvPids.Max(Rss);

        Progress("the same keys again, every one cached");
        var warm = await PassAsync(hot, key => Task.WhenAll(clients.Select(c => ValidOrThrowAsync(c, key))));
        var warmAgain = await PassAsync(hot, key => Task.WhenAll(clients.Select(c => ValidOrThrowAsync(c, key))));
        var steady = Math.Max(warm.Rate, warmAgain.Rate);
        var perKey = lookups / (double)HotKeys;
        rows.Add(new($"Validate {HotKeys:N0} hot keys from cold caches on 2 replicas at once: KeyAdmin lookups per key", "2 without single flight",
            $"{perKey:F3} ({lookups:N0}; {coldRetries:N0} calls retried after Unavailable)", "-", "≤ 1", perKey <= 1.0));
        rows.Add(new($"Validate {HotKeys:N0} hot keys: time to steady state (cold pass), throughput cold vs cached (calls/s, 2 replicas)",
            $"{steady:N0} calls/s cached", $"{cold.Rate:N0} calls/s cold, steady after {cold.Seconds:F1} s", $"{cold.Rate / steady:F2}×", "(shown)", true));

        var redisRecords = await RedisRecordCountAsync(redis);
        var redisPerKey = (redisAfter.Used - redisBefore.Used) / (double)Math.Max(1, redisAfter.Keys - redisBefore.Keys);
        rows.Add(new("Redis memory per cached key record (INFO used_memory delta / keys added)", $"{redisAfter.Keys - redisBefore.Keys:N0} keys added",
            $"{redisPerKey:F0} bytes/key", "-", "(shown)", redisRecords >= HotKeys));

        // A million distinct keys through the gateway: each is validated by KeyValidation (one of the replicas) and held
        // in the gateway's near cache; the first 50,000 give bytes per entry below the caps.
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Concurrency })
        {
            BaseAddress = await system.DirectAddressAsync("gateway", "http"),
        };
        var gatewayRssBefore = Rss(gatewayPid);
        var rest = keys.Skip(HotKeys).ToList();
        Progress($"through the gateway: {HotKeys:N0} keys its caches have never seen");
        var sample = rest.Take(HotKeys).ToList();
        await PassAsync(sample, key => GetOrThrowAsync(http, key));
        var gatewayRssSample = Rss(gatewayPid);
        var gatewayPerEntry = Math.Max(0, gatewayRssSample - gatewayRssBefore) / (double)HotKeys;
        var kvPerEntry = Math.Max(0, kvRssHot - kvRssBefore) / (double)HotKeys;

        Progress($"through the gateway: the other {TotalKeys - (2 * HotKeys):N0} distinct keys, for at most {TouchBudget.TotalSeconds:F0} s");
        var touch = await PassAsync(rest.Skip(HotKeys).ToList(), key => GetOrThrowAsync(http, key), report: true, budget: TouchBudget);
        var touched = (2 * HotKeys) + touch.Done;
        var gatewayRss = Rss(gatewayPid);
        var kvRss = kvPids.Max(Rss);

        var gatewayBound = gatewayRssBefore + (GatewayNearCacheMaxEntries * gatewayPerEntry * RssSlack);
        var kvBound = kvRssBefore + ((KeyValidationMemoryMaxEntries + KeyValidationNotFoundMaxEntries) * kvPerEntry * RssSlack);
        rows.Add(new($"Gateway RSS after {touched:N0} distinct keys (near cache cap {GatewayNearCacheMaxEntries:N0}, {gatewayPerEntry:F0} bytes/entry measured)",
            $"{Mb(gatewayRssBefore)} before, {Mb(gatewayRssSample)} at {HotKeys:N0} keys", $"{Mb(gatewayRss)} ({touch.Rate:N0} keys/s, {Interlocked.Read(ref _retries):N0} retried after 503)",
            $"{gatewayRss / gatewayBound:F2}× bound", $"≤ {Mb(gatewayBound)} (before + cap × bytes/entry × {RssSlack})", gatewayRss <= gatewayBound));
        rows.Add(new($"KeyValidation RSS (larger replica) after {touched:N0} distinct keys (memory cap {KeyValidationMemoryMaxEntries:N0} + {KeyValidationNotFoundMaxEntries:N0} not-found, {kvPerEntry:F0} bytes/entry measured)",
            $"{Mb(kvRssBefore)} before, {Mb(kvRssHot)} at {HotKeys:N0} keys", Mb(kvRss),
            $"{kvRss / kvBound:F2}× bound", $"≤ {Mb(kvBound)} (before + caps × bytes/entry × {RssSlack})", kvRss <= kvBound));

        Progress("ListKeys deep in a 100,000-key environment (the listing part's walk, in this table of a million keys)");
        foreach (var row in await ListingBenchmark.RunAsync(system))
        {
            rows.Add(row with { Target = $"{row.Target}, among {TotalKeys:N0} keys" });
        }

        foreach (var channel in channels)
        {
            channel.Dispose();
        }

        return rows;
    }

    /// <summary>
    /// Keys written as KeyAdmin writes them (id, mask, SHA-256 of the key string), into projects made through the API
    /// (which gives them their environments). Returns the keys of the small environments, shuffled, for the validations.
    /// </summary>
    private static async Task<(List<string> Keys, double Seconds)> SeedAsync(KeysHost system, NpgsqlConnection postgres)
    {
        using var admin = new HttpClient { BaseAddress = await system.DirectAddressAsync("key-admin", "http") };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", system.AdminToken);
        var projects = new List<string>();
        for (var i = 0; i <= Projects; i++)
        {
            var response = await admin.PostAsJsonAsync("/v1/projects", new { name = $"Scale {i}" });
            projects.Add((await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<Named>())!.Id);
        }

        var clock = Stopwatch.StartNew();
        var environments = new[] { "prod", "staging" };
        var perSmall = (TotalKeys - LargeEnvironmentKeys) / (Projects * environments.Length);
        var keys = new List<string>(TotalKeys - LargeEnvironmentKeys);
        var now = DateTime.UtcNow;
        await using (var writer = await postgres.BeginBinaryImportAsync(
            "COPY api_key (id, project_id, environment, name, type, scopes, key_hash, masked_key, created_at, created_by) FROM STDIN (FORMAT BINARY)"))
        {
            // Completing waits for Postgres to index a million rows, which takes minutes on a busy machine.
            writer.Timeout = TimeSpan.FromMinutes(10);
            for (var i = 0; i < TotalKeys; i++)
            {
                var large = i < LargeEnvironmentKeys;
                var slot = large ? 0 : (i - LargeEnvironmentKeys) / perSmall;
                var project = large ? projects[0] : projects[1 + (slot / environments.Length)];
                var environment = large ? "prod" : environments[slot % environments.Length];
                var key = KeyString.Generate(ApiKeyType.Secret);
                if (!large)
                {
                    keys.Add(key);
                }

                await writer.StartRowAsync();
                await writer.WriteAsync(ResourceId.NewKeyId(), NpgsqlDbType.Text);
                await writer.WriteAsync(project, NpgsqlDbType.Text);
                await writer.WriteAsync(environment, NpgsqlDbType.Text);
                await writer.WriteAsync($"scale-{i}", NpgsqlDbType.Text);
                await writer.WriteAsync("secret", NpgsqlDbType.Text);
                await writer.WriteAsync(Scopes, NpgsqlDbType.Array | NpgsqlDbType.Text);
                await writer.WriteAsync(KeyHash.Of(key).ToArray(), NpgsqlDbType.Bytea);
                await writer.WriteAsync(KeyString.Mask(key), NpgsqlDbType.Text);
                await writer.WriteAsync(now.AddTicks(-i * TimeSpan.TicksPerMillisecond), NpgsqlDbType.TimestampTz);
                await writer.WriteAsync("bench", NpgsqlDbType.Text);
            }

            await writer.CompleteAsync();
        }

        var seconds = clock.Elapsed.TotalSeconds;
        await using (var analyze = new NpgsqlCommand("ANALYZE api_key", postgres))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        Progress($"seeded in {seconds:F0} s");
        Random.Shared.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(keys));
        return (keys, seconds);
    }

    private static async Task<(double Rate, double Seconds, int Done)> PassAsync(
        List<string> keys, Func<string, Task> call, bool report = false, TimeSpan? budget = null)
    {
        var next = -1;
        var done = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            int i;
            while ((budget is null || clock.Elapsed < budget) && (i = Interlocked.Increment(ref next)) < keys.Count)
            {
                await call(keys[i]);
                Interlocked.Increment(ref done);
                if (report && i % Math.Max(1, keys.Count / 5) == 0 && i > 0)
                {
                    Progress($"  {i:N0} of {keys.Count:N0} after {clock.Elapsed.TotalSeconds:F0} s");
                }
            }
        }));
        return (done / clock.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds, done);
    }

    private static long _retries;

    // A scope other than the orders route's: the gateway checks the key, then answers 403 itself (no key scoped at all
    // would be a key with every scope).
    private static readonly string[] Scopes = ["posts:read"];

    /// <summary>
    /// Validate until it answers: Unavailable (a KeyAdmin lookup past its deadline on a busy machine) or
    /// ResourceExhausted (lookups shed) is counted and asked again after a pause, as a gateway's client would.
    /// </summary>
    private static async Task ValidOrThrowAsync(KeyValidationService.KeyValidationServiceClient client, string key)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var result = await client.ValidateAsync(new ValidateRequest { Key = key });
                if (result.Outcome != ValidationOutcome.Valid)
                {
                    throw new InvalidOperationException($"A seeded key was {result.Outcome}.");
                }

                return;
            }
            catch (Grpc.Core.RpcException ex) when (attempt < 20 && ex.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.ResourceExhausted)
            {
                Interlocked.Increment(ref _retries);
                await Task.Delay(100 * (attempt + 1));
            }
        }
    }

    // The orders route asks for a scope the seeded keys lack: the key is checked (and held in the near cache) and the
    // answer is 403 from the gateway itself, so the upstream's speed does not set the pace.
    private static async Task GetOrThrowAsync(HttpClient http, string key)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/demo/orders/x");
            request.Headers.Add("X-Api-Key", key);
            using var response = await http.SendAsync(request);
            if (response.StatusCode == System.Net.HttpStatusCode.Forbidden)
            {
                return;
            }

            if (response.StatusCode != System.Net.HttpStatusCode.ServiceUnavailable || attempt >= 20)
            {
                throw new InvalidOperationException($"A seeded key got {(int)response.StatusCode} on the orders route, not 403 (scope missing).");
            }

            Interlocked.Increment(ref _retries);
            await Task.Delay(100 * (attempt + 1));
        }
    }

    /// <summary>Lookups by key hash in Postgres: what KeyAdmin's LookupKey does, and nothing else in this run does.</summary>
    private static async Task<long> HashLookupsAsync(NpgsqlConnection postgres)
    {
        // Postgres publishes other sessions' statistics about once a second.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await using var command = new NpgsqlCommand(
            """
            SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes
            WHERE relname = 'api_key' AND indexrelname IN (
              SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)
              WHERE x.indrelid = 'api_key'::regclass AND a.attname = 'key_hash' AND x.indnatts = 1)
            """, postgres);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<(long Used, long Keys)> RedisUsedAsync(ConnectionMultiplexer redis)
    {
        var server = redis.GetServers()[0];
        var info = (await server.InfoAsync("memory")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        return (long.Parse(info["used_memory"], CultureInfo.InvariantCulture), await server.DatabaseSizeAsync());
    }

    private static async Task<long> RedisRecordCountAsync(ConnectionMultiplexer redis)
    {
        long count = 0;
        await foreach (var _ in redis.GetServers()[0].KeysAsync(pattern: "keys:v1:record:*", pageSize: 10_000))
        {
            count++;
        }

        return count;
    }

    private static async Task<List<int>> ReplicaPidsAsync(KeysHost system, string name)
    {
        var ids = new HashSet<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await system.App.ResourceNotifications.WaitForResourceAsync(
            name,
            e =>
            {
                if (e.Snapshot.State?.Text == KnownResourceStates.Running)
                {
                    ids.Add(e.ResourceId);
                }

                return ids.Count >= system.ReplicaCount(name);
            },
            timeout.Token);
        var pids = new List<int>();
        foreach (var id in ids)
        {
            pids.Add(await system.ProcessIdAsync(name, id));
        }

        return pids;
    }

    /// <summary>VmRSS of a process, in bytes.</summary>
    private static double Rss(int pid) =>
        double.Parse(
            File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1],
            CultureInfo.InvariantCulture) * 1024;

    private static string Mb(double bytes) => $"{bytes / (1024 * 1024):F0} MB";

    private static void Progress(string line) => Console.WriteLine($"  scale: {line}");

    private sealed record Named(string Id);
}
