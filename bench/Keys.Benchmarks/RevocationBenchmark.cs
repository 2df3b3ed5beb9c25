using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace Keys.Benchmarks;

/// <summary>
/// How soon a deleted key stops working at the gateway, for keys the gateway had cached: one at a time (G4), with the
/// invalidation channel cut, 2,000 at once, and while Redis is frozen. Each part is bounded and reports a failure as
/// a missed row, so that a system that hangs or falls over still yields a table. The Redis stall runs last: it is the
/// part most likely to leave the system broken, and it measures the recovery itself.
/// </summary>
public static class RevocationBenchmark
{
    private const string KeyedPath = "/demo/public/x";

    // Every call is bounded by its own token (HttpClient's own timeout is off): a hung call becomes a recorded miss.
    private static readonly TimeSpan AdminTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan GatewayTimeout = TimeSpan.FromSeconds(5);

    private const int BulkKeys = 2_000;
    private static readonly TimeSpan BulkBound = TimeSpan.FromSeconds(30);

    // Stall: one key every second, so that every key is deleted during the one freeze even when each DELETE hangs
    // to its timeout; the worst case (14 s + 8 s + 6 s + the final check) keeps the freeze near 30 s.
    private const int StallKeys = 15;
    private static readonly TimeSpan StallSpacing = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StallDeleteTimeout = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan RefusalBound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RefusalWatch = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(30);

    public static async Task<IEnumerable<Row>> RunAsync(KeysHost system)
    {
        using var admin = new HttpClient { BaseAddress = system.App.GetEndpoint("key-admin", "http"), Timeout = Timeout.InfiniteTimeSpan };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", system.AdminToken);
        using var gateway = new HttpClient { BaseAddress = await system.DirectAddressAsync("gateway", "http"), Timeout = Timeout.InfiniteTimeSpan };
        var clients = new Clients(admin, gateway, await CreateProjectAsync(admin));

        var rows = new List<Row>();
        rows.AddRange(await GuardAsync("G4: DELETE returned → first 401 at the gateway", "≤ 100 ms", () => OneAtATimeAsync(system, clients)));
        rows.AddRange(await GuardAsync($"Bulk revocation of {BulkKeys:N0} keys", "≤ 5000 ms", () => BulkAsync(clients)));
        rows.AddRange(await GuardAsync("G4 during a Redis stall", "≤ 5000 ms", () => RedisStallAsync(system, clients)));
        return rows;
    }

    /// <summary>G4 as before: 60 keys one at a time, then 10 with Redis refusing KeyAdmin's PUBLISH.</summary>
    private static async Task<IEnumerable<Row>> OneAtATimeAsync(KeysHost system, Clients clients)
    {
        // The gateway benchmark ends by restarting KeyValidation: wait until keys work again, then past the
        // gateway's Watch reconnect backoff (at most 2 s), so that the keys below are in a near cache that is in use.
        if (await WaitUntilServingAsync(clients, TimeSpan.FromSeconds(60)) is (null, var failure))
        {
            throw new InvalidOperationException($"a fresh key did not work through the gateway within 60 s ({failure})");
        }

        await Task.Delay(TimeSpan.FromSeconds(3));

        var fast = new List<double>();
        for (var i = 0; i < 60; i++)
        {
            fast.Add(await RevokeOnceAsync(clients, $"g4-{i}"));
        }

        // Cut the channel: Redis refuses KeyAdmin's PUBLISH, so only KeyValidation's catch-up poll can find the delete.
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync((await system.App.GetConnectionStringAsync("redis"))!);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        await server.ExecuteAsync("ACL", "SETUSER", "default", "-publish");
        var cut = new List<double>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                cut.Add(await RevokeOnceAsync(clients, $"g4-cut-{i}"));
            }
        }
        finally
        {
            await server.ExecuteAsync("ACL", "SETUSER", "default", "+publish");
        }

        return
        [
            new($"G4: DELETE returned → first 401 at the gateway, p99 (n={fast.Count})", $"p50 {Percentile(fast, 0.5):F1} ms",
                $"{Percentile(fast, 0.99):F1} ms", "-", "≤ 100 ms", Percentile(fast, 0.99) <= 100),
            new($"G4: same with the invalidation channel cut, max (n={cut.Count})", $"p50 {Percentile(cut, 0.5):F0} ms",
                $"{cut.Max():F0} ms", "-", "≤ 5000 ms", cut.Max() <= 5000),
        ];
    }

    /// <summary>Time from a DELETE returning at KeyAdmin to the first 401 at the gateway for a key it had cached.</summary>
    private static async Task<double> RevokeOnceAsync(Clients clients, string name)
    {
        var key = await CreateKeyAsync(clients, name);
        for (var i = 0; i < 3; i++)
        {
            await GetAsync(clients.Gateway, key, GatewayTimeout);
        }

        if (await DeleteAsync(clients, key, AdminTimeout) is not HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"DELETE of {name} failed or timed out");
        }

        // Past 30 s the time is recorded as it stands: a miss by far, and the benchmark moves on.
        var clock = Stopwatch.StartNew();
        while (await GetAsync(clients.Gateway, key, GatewayTimeout) != HttpStatusCode.Unauthorized && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
        }

        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>
    /// 2,000 keys, each cached by the gateway, deleted as fast as KeyAdmin takes DELETEs. Meanwhile checkers ask the
    /// gateway for each key from its DELETE's response on until it is refused. (Asking for all 2,000 only after the
    /// last DELETE would measure how fast the gateway refuses 2,000 keys it no longer has cached, ~5 s for one pass
    /// on this machine, rather than how soon the revocations reached it.)
    /// </summary>
    private static async Task<IEnumerable<Row>> BulkAsync(Clients clients)
    {
        var keys = new Key[BulkKeys];
        await Parallel.ForEachAsync(Enumerable.Range(0, BulkKeys), Concurrency(8), async (i, _) =>
            keys[i] = await CreateKeyAsync(clients, $"bulk-{i}"));

        var notCached = 0;
        await Parallel.ForEachAsync(keys, Concurrency(8), async (key, _) =>
        {
            if (!await UseUntilServedAsync(clients.Gateway, key))
            {
                Interlocked.Increment(ref notCached);
            }
        });

        var clock = Stopwatch.StartNew();
        var returnedAt = new TimeSpan?[BulkKeys];
        var refusedAt = new TimeSpan?[BulkKeys];
        var toCheck = new ConcurrentQueue<int>();
        var unresolved = 0;
        var deletesDone = false;
        var failedDeletes = 0;

        // A key still served goes to the back of the line, until BulkBound after its DELETE.
        var checkers = Enumerable.Range(0, 8).Select(async _ =>
        {
            while (!Volatile.Read(ref deletesDone) || Volatile.Read(ref unresolved) > 0)
            {
                if (!toCheck.TryDequeue(out var i))
                {
                    await Task.Delay(1);
                    continue;
                }

                if (await GetAsync(clients.Gateway, keys[i], GatewayTimeout) == HttpStatusCode.Unauthorized)
                {
                    refusedAt[i] = clock.Elapsed;
                    Interlocked.Decrement(ref unresolved);
                }
                else if (clock.Elapsed - returnedAt[i]!.Value < BulkBound)
                {
                    toCheck.Enqueue(i);
                }
                else
                {
                    Interlocked.Decrement(ref unresolved);
                }
            }
        }).ToList();

        await Parallel.ForEachAsync(Enumerable.Range(0, BulkKeys), Concurrency(16), async (i, _) =>
        {
            if (await DeleteAsync(clients, keys[i], AdminTimeout) is HttpStatusCode.OK)
            {
                returnedAt[i] = clock.Elapsed;
                Interlocked.Increment(ref unresolved);
                toCheck.Enqueue(i);
            }
            else
            {
                Interlocked.Increment(ref failedDeletes);
            }
        });
        var deletes = clock.Elapsed;
        Volatile.Write(ref deletesDone, true);
        await Task.WhenAll(checkers);

        // Once refused, refused for good: a stale answer cached again after the invalidation would show up here.
        var servedAgain = 0;
        await Parallel.ForEachAsync(keys, Concurrency(16), async (key, _) =>
        {
            if (await GetAsync(clients.Gateway, key, GatewayTimeout) == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref servedAgain);
            }
        });

        var deleted = Enumerable.Range(0, BulkKeys).Where(i => returnedAt[i] is not null).ToList();
        var refused = deleted.Where(i => refusedAt[i] is not null).ToList();
        var lastReturned = deleted.Select(i => returnedAt[i]!.Value).DefaultIfEmpty().Max();
        var perKey = refused.Select(i => (refusedAt[i]!.Value - returnedAt[i]!.Value).TotalMilliseconds).ToList();

        var baseline = $"{BulkKeys:N0} DELETEs in {deletes.TotalSeconds:F1} s (16 at a time)"
            + (perKey.Count > 0 ? $"; per key p50 {Percentile(perKey, 0.5):F0} ms, max {perKey.Max():F0} ms" : "")
            + (failedDeletes > 0 ? $"; {failedDeletes} DELETEs failed or timed out" : "")
            + (notCached > 0 ? $"; {notCached} keys never served before the delete" : "");
        var allRefused = refused.Count == deleted.Count && refused.Count > 0
            ? refused.Max(i => refusedAt[i]!.Value) - lastReturned
            : (TimeSpan?)null;
        var measured = (allRefused is { } t ? $"{t.TotalMilliseconds:F0} ms" : $"{deleted.Count - refused.Count} still served {BulkBound.TotalSeconds:F0} s after their DELETE")
            + (servedAgain > 0 ? $"; {servedAgain} served again afterwards" : "");
        return
        [
            new($"Bulk revocation: last DELETE returned → all {BulkKeys:N0} keys refused (401) at the gateway", baseline, measured, "-", "≤ 5000 ms",
                allRefused is { } done && done <= RefusalBound && failedDeletes == 0 && notCached == 0 && servedAgain == 0),
        ];
    }

    /// <summary>
    /// G4 while Redis is frozen (SIGSTOP): every DELETE and every refusal must get by without it. One key a second is
    /// deleted and then requested in a tight loop until the gateway refuses it; at the end of the freeze every
    /// deleted key is asked for once more. Redis is always continued, and the time until the system serves a fresh
    /// key again is measured.
    /// </summary>
    private static async Task<IEnumerable<Row>> RedisStallAsync(KeysHost system, Clients clients)
    {
        if (await WaitUntilServingAsync(clients, TimeSpan.FromSeconds(60)) is (null, var failure))
        {
            throw new InvalidOperationException($"before the freeze, a fresh key did not work through the gateway within 60 s ({failure})");
        }

        var keys = new Key[StallKeys];
        for (var i = 0; i < StallKeys; i++)
        {
            keys[i] = await CreateKeyAsync(clients, $"stall-{i}");

            // Served three times, so that the gateway has it cached: a key it never served would prove nothing.
            if (!await UseUntilServedAsync(clients.Gateway, keys[i]))
            {
                throw new InvalidOperationException($"before the freeze, the gateway did not serve key stall-{i}");
            }

            await GetAsync(clients.Gateway, keys[i], GatewayTimeout);
            await GetAsync(clients.Gateway, keys[i], GatewayTimeout);
        }

        var pid = await system.ProcessIdAsync("redis");
        var samples = new StallSample?[StallKeys];
        var finalStatuses = new HttpStatusCode?[StallKeys];
        var frozenFor = TimeSpan.Zero;

        // Redis goes on afterwards whatever happens, an interrupted benchmark included.
        await system.FreezeAsync("redis", async () =>
        {
            var freeze = Stopwatch.StartNew();
            var flows = Enumerable.Range(0, StallKeys).Select(async i =>
            {
                await Task.Delay(StallSpacing * i);
                samples[i] = await DeleteThenWatchAsync(clients, keys[i], freeze);
            });

            // Every call above is bounded; this bound is only a backstop, so that the freeze always ends.
            try
            {
                await Task.WhenAll(flows).WaitAsync(TimeSpan.FromSeconds(45));
            }
            catch (TimeoutException)
            {
            }

            // Judged past the bound: every key whose DELETE returned gets its full 5 s before this last look.
            var lastReturned = samples.Where(s => s?.ReturnedAt is not null).Select(s => s!.ReturnedAt!.Value).DefaultIfEmpty(TimeSpan.Zero).Max();
            var wait = lastReturned + RefusalBound + TimeSpan.FromMilliseconds(250) - freeze.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            await Task.WhenAll(Enumerable.Range(0, StallKeys).Select(async i =>
                finalStatuses[i] = await GetAsync(clients.Gateway, keys[i], TimeSpan.FromSeconds(2))));
            frozenFor = freeze.Elapsed;
        });

        var recovery = await WaitUntilServingAsync(clients, RecoveryBound);
        return StallRows(system, pid, samples, finalStatuses, frozenFor, recovery);
    }

    private static async Task<StallSample> DeleteThenWatchAsync(Clients clients, Key key, Stopwatch freeze)
    {
        var sent = Stopwatch.StartNew();
        var status = await DeleteAsync(clients, key, StallDeleteTimeout);
        var deleteLatency = sent.Elapsed;
        if (status is not HttpStatusCode.OK)
        {
            return new StallSample(deleteLatency, status, null, null, null);
        }

        var returnedAt = freeze.Elapsed;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < RefusalWatch)
        {
            var answer = await GetAsync(clients.Gateway, key, Remaining(GatewayTimeout, RefusalWatch, clock));
            if (answer is HttpStatusCode.Unauthorized or HttpStatusCode.ServiceUnavailable)
            {
                return new StallSample(deleteLatency, status, returnedAt, clock.Elapsed, answer);
            }
        }

        return new StallSample(deleteLatency, status, returnedAt, null, null);
    }

    private static List<Row> StallRows(
        KeysHost system, int redisPid, StallSample?[] samples, HttpStatusCode?[] finalStatuses, TimeSpan frozenFor,
        (TimeSpan? Elapsed, string LastFailure) recovery)
    {
        var n = samples.Length;
        var flows = samples.Where(s => s is not null).Select(s => s!).ToList();
        var returned = flows.Where(s => s.ReturnedAt is not null).ToList();
        var refused = returned.Where(s => s.Refusal is not null).Select(s => s.Refusal!.Value.TotalMilliseconds).ToList();
        var latencies = flows.Select(s => s.DeleteLatency.TotalMilliseconds).ToList();
        var timedOut = flows.Count(s => s.DeleteStatus is null) + (n - flows.Count);
        var failed = flows.Count(s => s.DeleteStatus is { } code && code != HttpStatusCode.OK);

        // n ≤ 100, so the p99 is the slowest key: one row gives both.
        var refusalMeasured = refused.Count == 0 ? "none measured" : $"{refused.Max():F0} ms";
        if (returned.Count - refused.Count > 0)
        {
            refusalMeasured += $"; {returned.Count - refused.Count} still served {RefusalWatch.TotalSeconds:F0} s after the DELETE";
        }

        if (n - returned.Count > 0)
        {
            refusalMeasured += $"; {n - returned.Count} DELETEs never returned";
        }

        var refusalBaseline = refused.Count == 0
            ? "-"
            : $"p50 {Percentile(refused, 0.5):F0} ms; {returned.Count(s => s.RefusalStatus == HttpStatusCode.Unauthorized)} × 401, "
              + $"{returned.Count(s => s.RefusalStatus == HttpStatusCode.ServiceUnavailable)} × 503";

        var deleteMeasured = latencies.Count == 0 ? "none measured" : $"{latencies.Max():F0} ms";
        if (timedOut > 0)
        {
            deleteMeasured = $"≥ {StallDeleteTimeout.TotalMilliseconds:F0} ms: {timedOut} of {n} had not returned after {StallDeleteTimeout.TotalSeconds:F0} s";
        }

        if (failed > 0)
        {
            deleteMeasured += $"; {failed} answered an error";
        }

        // Keys whose DELETE returned are judged; those whose DELETE never returned are shown, not judged (their delete
        // may or may not have committed), and the DELETE row already misses for them.
        var judged = Enumerable.Range(0, n).Where(i => samples[i]?.ReturnedAt is not null).ToList();
        var unconfirmed = Enumerable.Range(0, n).Where(i => samples[i]?.ReturnedAt is null).ToList();
        var served = judged.Count(i => finalStatuses[i] == HttpStatusCode.OK);
        var servedMeasured = served.ToString(CultureInfo.InvariantCulture)
            + (unconfirmed.Count > 0 ? $" (and {unconfirmed.Count(i => finalStatuses[i] == HttpStatusCode.OK)} of the {unconfirmed.Count} whose DELETE never returned)" : "");

        string recoveryMeasured;
        if (recovery.Elapsed is { } r)
        {
            recoveryMeasured = $"{r.TotalSeconds:F1} s";
        }
        else
        {
            // What stood in the way, for whoever reads the table: the last probe's failure and the processes' states.
            system.App.ResourceNotifications.TryGetCurrentState("key-admin", out var keyAdmin);
            recoveryMeasured = $"not within {RecoveryBound.TotalSeconds:F0} s: {recovery.LastFailure}; "
                + $"key-admin {keyAdmin?.Snapshot.State?.Text ?? "unknown"}, redis-server state {ProcessSignals.State(redisPid)?.ToString() ?? "gone"}";
        }

        return
        [
            new($"G4 during a Redis stall (SIGSTOP): DELETE returned → first refusal (401 or 503), p99 = max (n={n})", refusalBaseline,
                refusalMeasured, "-", "≤ 5000 ms", returned.Count == n && refused.Count == n && refused.Max() <= RefusalBound.TotalMilliseconds),
            new($"G4 during a Redis stall: the DELETE's own latency, max (n={n})",
                latencies.Count == 0 ? "-" : $"p50 {Percentile(latencies, 0.5):F0} ms", deleteMeasured, "-", "≤ 2000 ms",
                timedOut == 0 && failed == 0 && latencies.Max() <= 2000),
            new($"G4 during a Redis stall: deleted keys still served (200) past the {RefusalBound.TotalSeconds:F0} s bound",
                $"{judged.Count} deleted keys asked once more {frozenFor.TotalSeconds:F1} s into the freeze", servedMeasured, "-", "0",
                judged.Count > 0 && served == 0),
            new("Redis stall: SIGCONT → a fresh key works through the gateway again", $"Redis frozen {frozenFor.TotalSeconds:F1} s",
                recoveryMeasured, "-", "≤ 10 s", recovery.Elapsed is { } done && done <= TimeSpan.FromSeconds(10)),
        ];
    }

    /// <summary>
    /// Time until a newly created key works through the gateway (both KeyAdmin and the validation path serve), or
    /// null and what the last attempt met when that did not happen within the bound.
    /// </summary>
    private static async Task<(TimeSpan? Elapsed, string LastFailure)> WaitUntilServingAsync(Clients clients, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        var lastFailure = "no attempt";
        Key? key = null;
        while (clock.Elapsed < bound)
        {
            try
            {
                key ??= await CreateKeyAsync(clients, $"probe-{Guid.NewGuid():N}", Remaining(AdminTimeout, bound, clock));
                var status = await GetAsync(clients.Gateway, key, Remaining(GatewayTimeout, bound, clock));
                if (status == HttpStatusCode.OK)
                {
                    return (clock.Elapsed, "");
                }

                lastFailure = $"the gateway answered {(status is { } code ? ((int)code).ToString(CultureInfo.InvariantCulture) : "nothing in time")}";
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
            {
                lastFailure = ex is HttpRequestException { StatusCode: { } code }
                    ? $"creating a key: KeyAdmin answered {(int)code}"
                    : $"creating a key: {ex.GetType().Name}";
            }

            await Task.Delay(200);
        }

        return (null, lastFailure);
    }

    private static async Task<string> CreateProjectAsync(HttpClient admin)
    {
        using var timeout = new CancellationTokenSource(AdminTimeout);
        using var response = await admin.PostAsJsonAsync("/v1/projects", new { name = "Revocation benchmark" }, timeout.Token);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<IdOnly>(timeout.Token))!.Id;
    }

    private static async Task<Key> CreateKeyAsync(Clients clients, string name, TimeSpan? timeout = null)
    {
        using var cancellation = new CancellationTokenSource(timeout ?? AdminTimeout);
        using var response = await clients.Admin.PostAsJsonAsync(
            $"/v1/projects/{clients.ProjectId}/environments/prod/keys", new { name, type = "secret" }, cancellation.Token);
        response.EnsureSuccessStatusCode();
        var created = await response.Content.ReadFromJsonAsync<CreatedKey>(cancellation.Token);
        return new Key(created!.Key.Id, name, created.Value);
    }

    /// <summary>The DELETE's status, or null when it did not answer within the timeout.</summary>
    private static Task<HttpStatusCode?> DeleteAsync(Clients clients, Key key, TimeSpan timeout) =>
        SendAsync(clients.Admin, new HttpRequestMessage(
            HttpMethod.Delete, $"/v1/projects/{clients.ProjectId}/environments/prod/keys/{key.Id}?confirmName={Uri.EscapeDataString(key.Name)}"), timeout);

    private static Task<HttpStatusCode?> GetAsync(HttpClient gateway, Key key, TimeSpan timeout)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, KeyedPath);
        request.Headers.Add("X-API-Key", key.Value);
        return SendAsync(gateway, request, timeout);
    }

    /// <summary>One use that the gateway served (a 503 right after a restart is retried for a while).</summary>
    private static async Task<bool> UseUntilServedAsync(HttpClient gateway, Key key)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            if (await GetAsync(gateway, key, GatewayTimeout) == HttpStatusCode.OK)
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    private static async Task<HttpStatusCode?> SendAsync(HttpClient http, HttpRequestMessage request, TimeSpan timeout)
    {
        using (request)
        using (var cancellation = new CancellationTokenSource(timeout))
        {
            try
            {
                using var response = await http.SendAsync(request, cancellation.Token);
                return response.StatusCode;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                return null;
            }
        }
    }

    /// <summary>A part that throws (a service down, a call that failed) becomes one missed row instead of no table.</summary>
    private static async Task<IEnumerable<Row>> GuardAsync(string target, string goal, Func<Task<IEnumerable<Row>>> part)
    {
        try
        {
            return await part();
        }
        catch (Exception ex)
        {
            var reason = $"{ex.GetType().Name}: {ex.Message}".ReplaceLineEndings(" ").Replace('|', '/');
            return [new(target, "-", $"failed: {reason}", "-", goal, false)];
        }
    }

    private static ParallelOptions Concurrency(int degree) => new() { MaxDegreeOfParallelism = degree };

    /// <summary>A call's timeout: its usual one, or what is left of the bound if that is less (never zero or less).</summary>
    private static TimeSpan Remaining(TimeSpan timeout, TimeSpan bound, Stopwatch clock)
    {
        var left = bound - clock.Elapsed;
        return left < timeout ? (left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1)) : timeout;
    }

    private static double Percentile(List<double> samples, double p)
    {
        var sorted = samples.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * p))];
    }

    private sealed record Clients(HttpClient Admin, HttpClient Gateway, string ProjectId);

    private sealed record Key(string Id, string Name, string Value);

    /// <summary>One stall key: the DELETE's latency and status (null: no answer in time), and if it returned, when, and how soon it was refused.</summary>
    private sealed record StallSample(TimeSpan DeleteLatency, HttpStatusCode? DeleteStatus, TimeSpan? ReturnedAt, TimeSpan? Refusal, HttpStatusCode? RefusalStatus);

    private sealed record IdOnly(string Id);

    private sealed record CreatedKey(IdOnly Key, string Value);
}
