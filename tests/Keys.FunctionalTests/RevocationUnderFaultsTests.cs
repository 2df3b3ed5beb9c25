using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Keys.KeyValidation;
using Keys.KeyValidation.Caching;
using Keys.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Keys.FunctionalTests;

/// <summary>
/// Issue 10: no deleted key is ever served past the bound, whatever fails. Each test attacks the guarantee with one
/// fault (a Watch client that stops reading, Redis frozen or restarted, KeyValidation killed, a mass delete) and
/// leaves the system healthy for the tests after it. Times are correctness bounds, not speed measurements.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class RevocationUnderFaultsTests(FaultsAppFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>How long a deleted key may still pass anywhere once its DELETE has answered, under any fault.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    /// <summary>A healthy system's bound, as the other revocation tests hold it.</summary>
    private static readonly TimeSpan HealthyBound = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan PollPause = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Invalidations made while a Watch client does not read: twice what its stream was measured to hold (with a
    /// server queue of 256, a client that stopped reading got 1,834 invalidations before the rest overflowed: the
    /// queue, and ~1,580 events of ~50 bytes in the HTTP/2 flow-control windows and Kestrel's response buffer).
    /// </summary>
    private const int SlowWatcherBurst = 3_600;

    /// <summary>How long a DELETE is waited for: far past its bound, so that a hang is measured, not waited out.</summary>
    private static readonly TimeSpan DeletePatience = TimeSpan.FromSeconds(15);

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<Answer> _answers = new();
    private readonly List<IDisposable> _disposables = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _disposables.ForEach(d => d.Dispose());

        // A service the fault took down says why in its last errors: keep them before the restart buries them.
        var down = (await fixture.ServiceStatesAsync()).Where(s => s.Value != KnownResourceStates.Running).ToList();
        if (down.Count > 0)
        {
            var logs = await fixture.ReadLogsByResourceAsync();
            foreach (var name in down.Select(s => FaultsAppFixture.Services.First(service => s.Key.StartsWith(service.Name, StringComparison.Ordinal)).Name).Distinct())
            {
                output.WriteLine($"{name} ({string.Join(", ", down.Where(s => s.Key.StartsWith(name, StringComparison.Ordinal)).Select(s => $"{s.Key} {s.Value}"))}), last errors:");
                foreach (var line in LastErrors(logs[name], 40))
                {
                    output.WriteLine("    " + line);
                }
            }
        }

        await fixture.RecoverAsync();
    }

    // Error lines (but failed health checks, which every outage brings) and what follows them, without colour codes.
    private static IEnumerable<string> LastErrors(string log, int count)
    {
        var lines = System.Text.RegularExpressions.Regex.Replace(log, @"\x1B\[[0-9;]*m", "").Split('\n');
        var kept = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var error = lines[i].Contains("fail:", StringComparison.Ordinal) || lines[i].Contains("crit:", StringComparison.Ordinal);
            if (error && !(i + 1 < lines.Length && lines[i + 1].Contains("Health check", StringComparison.Ordinal)))
            {
                kept.AddRange(lines.Skip(i).Take(4).Select(l => l.TrimEnd()));
            }
        }

        return kept.TakeLast(count);
    }

    /// <summary>
    /// A Watch client that stops reading must not be sent a thinned stream: when its buffers overflow, it is told to
    /// flush, or its stream ends (and it flushes), but it never sees a later sequence with earlier ones silently
    /// missing, which would leave a deleted key in its cache.
    /// </summary>
    [Fact]
    public async Task WatchClientThatStopsReadingIsFlushedOrCutOffNeverSilentlyThinned()
    {
        var replica = (await fixture.GetReplicaAddressesAsync("key-validation", "grpc", replicas: 2))[0];
        using var channel = fixture.ServiceChannel(replica);
        var validation = new KeyValidationService.KeyValidationServiceClient(channel);
        var project = await _admin.CreateProjectAsync("Slow watcher");
        var held = await _admin.CreateKeyAsync(project.Id, "dev", "held", "secret");
        var heldHash = Convert.ToHexString(KeyHash.Of(held.Value).ToArray());

        // The client holds the key, as a gateway does once this replica has said it is valid.
        Assert.Equal(ValidationOutcome.Valid, (await validation.ValidateAsync(new ValidateRequest { Key = held.Value })).Outcome);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        using var watch = validation.Watch(new WatchRequest { FromSequence = 0 }, cancellationToken: timeout.Token);
        var client = new WatchingClient();
        Assert.True(await watch.ResponseStream.MoveNext(timeout.Token));
        client.Apply(watch.ResponseStream.Current);
        client.Hold(heldHash);
        var opened = client.Last;

        // It reads nothing more while far more invalidations are made than its stream can buffer (the server's queue
        // and both ends' HTTP/2 windows), the held key's delete among them: past what the stream holds, with more after.
        var burst = Stopwatch.StartNew();
        await MakeInvalidationsAsync(
            project.Id, SlowWatcherBurst, SlowWatcherBurst * 3 / 4, then: () => DeleteAsync(project.Id, held, "held"));
        var burstTook = burst.Elapsed;
        var head = (await ChangesAsync(opened, limit: 1)).HeadSequence;
        var heldSequence = await SequenceOfAsync(heldHash, since: opened);

        // Then it reads again, until it has caught up with KeyAdmin or its stream ends.
        using var catchUp = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        catchUp.CancelAfter(TimeSpan.FromSeconds(60));
        string? ended = null;
        try
        {
            while (!client.CaughtUp(head))
            {
                if (!await watch.ResponseStream.MoveNext(catchUp.Token))
                {
                    ended = "completed";
                    break;
                }

                client.Apply(watch.ResponseStream.Current);
            }
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException && catchUp.IsCancellationRequested)
        {
            Assert.Fail($"The client had not caught up with sequence {head} 60 s after it read again: {client}");
        }
        catch (RpcException ex)
        {
            ended = $"failed with {ex.StatusCode} ({ex.Status.Detail})";
        }

        client.Finish(ended is not null);
        output.WriteLine(
            $"Opened at {opened}; {head - opened} invalidations made in {burstTook.TotalSeconds:F1} s; held key's at {heldSequence}; " +
            $"stream {ended ?? "still open"}; {client}");

        Assert.True(
            client.Gaps.Count == 0,
            $"The stream skipped sequences without a flush: {string.Join("; ", client.Gaps.Take(5))} " +
            $"({client.Missed} invalidations silently dropped; the held key's, {heldSequence}, " +
            $"{(client.Delivered(heldSequence) ? "was delivered" : "was among them")}). {client}");
        Assert.False(client.Holds(heldHash), $"The client still holds the key deleted at sequence {heldSequence}. {client}");
        Assert.True(
            client.Flushes > 0 || ended is not null,
            $"The client fell {head - opened} invalidations behind, far more than a stream buffers " +
            $"({KeysAppFixture.WatchBufferCapacity} queued plus the HTTP/2 windows), yet it was neither told to flush nor cut off. {client}");
    }

    /// <summary>
    /// A frozen Redis (the process stopped, its connections open and silent) must not hold up deletes, nor take any
    /// service down: KeyAdmin commits the delete and the outbox delivers it later.
    /// </summary>
    [Fact]
    public async Task WhileRedisIsFrozenForThirtySecondsDeletesAnswerWithinTwoSecondsAndEveryServiceSurvives()
    {
        var project = await _admin.CreateProjectAsync("Redis frozen 30 s");
        var keys = new List<CreatedKeyDto>();
        for (var i = 0; i < 6; i++)
        {
            keys.Add(await _admin.CreateKeyAsync(project.Id, "dev", $"deleted-in-freeze-{i}", "secret"));
        }

        var deletes = new List<Task<DeleteResult>>();
        var frozenAt = TimeSpan.Zero;
        await fixture.FreezeAsync("redis", async () =>
        {
            frozenAt = _clock.Elapsed;
            // Spread over the freeze, each on its own: one that hangs must not hold back the next.
            deletes.AddRange(keys.Select((key, i) => DeleteAsync(project.Id, key, $"{i}", at: frozenAt + TimeSpan.FromSeconds(1 + (5 * i)))));
            await DelayUntilAsync(frozenAt + TimeSpan.FromSeconds(30));
        });
        var thawedAt = _clock.Elapsed;

        var problems = new List<string>(await ServesNormallyAsync(project.Id, deadline: thawedAt + TimeSpan.FromSeconds(10), subnet: 12));
        problems.AddRange((await fixture.ServiceStatesAsync())
            .Where(s => s.Value != KnownResourceStates.Running)
            .Select(s => $"{s.Key} is {s.Value} after the freeze, not {KnownResourceStates.Running}."));
        foreach (var deleted in await Task.WhenAll(deletes))
        {
            if (deleted.Outcome != "200" || deleted.Took > TimeSpan.FromSeconds(2))
            {
                problems.Add($"The DELETE sent {(deleted.Sent - frozenAt).TotalSeconds:F0} s into the freeze answered {deleted.Outcome} after {deleted.Took.TotalSeconds:F1} s (bound: 200 within 2 s).");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>
    /// While Redis is frozen, a key both gateways cache and that is then deleted is refused by both within the bound,
    /// and a key that nobody deleted is never called revoked (failing closed is 503, not 401).
    /// </summary>
    [Fact]
    public async Task WhileRedisIsFrozenADeletedCachedKeyIsRefusedWithinTheBoundAndALiveKeyIsNeverCalledRevoked()
    {
        var project = await _admin.CreateProjectAsync("Redis frozen 10 s");
        var doomed = await _admin.CreateKeyAsync(project.Id, "dev", "deleted-in-freeze", "secret");
        var live = await _admin.CreateKeyAsync(project.Id, "dev", "live-through-freeze", "secret");
        var gateways = await GatewaysAsync(subnet: 13);
        await CacheEverywhereAsync(gateways, doomed.Value, live.Value);

        using var stop = new CancellationTokenSource();
        var polls = gateways.Select(g => PollAsync(g, [("L", live.Value)], stop.Token)).ToList();
        Task<(DeleteResult Result, Task Polls)> deletion = null!;
        await fixture.FreezeAsync("redis", async () =>
        {
            var frozenAt = _clock.Elapsed;
            deletion = DeleteThenPollAsync(project.Id, doomed, "D", frozenAt + TimeSpan.FromSeconds(1), gateways, stop.Token);
            await DelayUntilAsync(frozenAt + TimeSpan.FromSeconds(10));
        });
        var thawedAt = _clock.Elapsed;
        var (deleted, doomedPolls) = await deletion;

        // After the thaw, both gateways are back to the truth within 10 s.
        var settled = await WaitUntilAsync(
            () => gateways.All(g => Latest("L", g.Name)?.Outcome == Answer.Ok && Latest("D", g.Name)?.Outcome == Answer.Revoked),
            deadline: Max(thawedAt, deleted.Answered + Bound) + TimeSpan.FromSeconds(10));
        await stop.CancelAsync();
        await Task.WhenAll([.. polls, doomedPolls]);

        var problems = new List<string>();
        if (deleted.Outcome != "200")
        {
            problems.Add($"The DELETE answered {deleted.Outcome} after {deleted.Took.TotalSeconds:F1} s.");
        }

        problems.AddRange(RefusedWithin("D", deleted.Answered, Bound, gateways, refusal: a => a.Outcome is Answer.Revoked or Answer.Unavailable));
        problems.AddRange(ServedPastBound("D", deleted.Answered));
        problems.AddRange(_answers.Where(a => a.Key == "L" && a.Outcome.StartsWith("401", StringComparison.Ordinal)).GroupBy(a => a.Endpoint)
            .Select(g => $"L, never deleted, was answered {g.First().Outcome} by {g.Key} {g.Count()} times, first at {Since(g.First().At, deleted.Answered)}."));
        if (!settled)
        {
            problems.Add($"10 s after the thaw the gateways did not answer L 200 and D 401 TOKEN_REVOKED: {LatestOf(gateways, "L", "D")}.");
        }

        output.WriteLine($"D deleted in {deleted.Took.TotalSeconds:F2} s, thawed {Since(thawedAt, deleted.Answered)}; answers: {Tally(_answers)}");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>
    /// Redis stopped and started again (empty) while keys are validated everywhere: no deleted key passes anywhere past
    /// the bound, no stale record is written back into the new Redis by a lookup that raced the restart, and live keys
    /// pass again once Redis is back.
    /// </summary>
    [Fact]
    public async Task AcrossARedisRestartNoDeletedKeyIsServedAndLiveKeysPassAgain()
    {
        var project = await _admin.CreateProjectAsync("Redis restarted");
        var beforeStop = await CreateKeysAsync(project.Id, "deleted-before-stop", 3);
        var whileDown = await CreateKeysAsync(project.Id, "deleted-while-down", 3);
        var justBeforeBack = await CreateKeysAsync(project.Id, "deleted-just-before-back", 3);
        var live = await CreateKeysAsync(project.Id, "live", 3);
        var doomed = beforeStop.Concat(whileDown).Concat(justBeforeBack).ToList();
        var labelled = doomed.Concat(live).Select(k => (k.Key.Name, k.Value)).ToList();
        var checkers = (await GatewaysAsync(subnet: 14)).Concat(await KeyValidationReplicasAsync()).ToList();

        // Every key passes everywhere first (twice, so that both gateways cache it and its record is in Redis).
        foreach (var checker in checkers)
        {
            foreach (var (label, value) in labelled.Concat(labelled))
            {
                var outcome = await checker.AskAsync(value, CancellationToken.None);
                Assert.True(Answer.IsServed(outcome), $"{label} did not pass {checker.Name} before the restart: {outcome}");
            }
        }

        var deletions = new ConcurrentBag<DeleteResult>();
        foreach (var key in beforeStop)
        {
            deletions.Add(await DeleteAsync(project.Id, key, key.Key.Name));
        }

        // Validation load on every gateway and replica, across the restart, so that lookups in flight race it.
        using var stop = new CancellationTokenSource();
        var loadFrom = _clock.Elapsed;
        var load = checkers.Select(c => PollAsync(c, labelled, stop.Token)).ToList();
        Assert.True(
            await WaitUntilAsync(() => checkers.All(c => _answers.Any(a => a.Endpoint == c.Name && a.Sent >= loadFrom)), deadline: loadFrom + TimeSpan.FromSeconds(10)),
            $"The load did not reach every checker before Redis was to stop: {Tally(_answers.Where(a => a.Sent >= loadFrom))}");
        await fixture.StopResourceAsync("redis");
        var stoppedAt = _clock.Elapsed;
        TimeSpan backAt;
        try
        {
            foreach (var deleted in await Task.WhenAll(whileDown.Select(k => DeleteAsync(project.Id, k, k.Key.Name))))
            {
                deletions.Add(deleted);
            }

            // Down long enough for the bound of those deletes to end before Redis is back.
            await DelayUntilAsync(stoppedAt + Bound + TimeSpan.FromSeconds(1));
            foreach (var deleted in await Task.WhenAll(justBeforeBack.Select(k => DeleteAsync(project.Id, k, k.Key.Name))))
            {
                deletions.Add(deleted);
            }
        }
        finally
        {
            await fixture.StartResourceAsync("redis", fixture.RedisAnswersAsync);
            backAt = _clock.Elapsed;
        }

        // Load goes on for a while after Redis is back, and until the live keys pass everywhere again.
        await DelayUntilAsync(backAt + TimeSpan.FromSeconds(8));
        var liveAgain = await WaitUntilAsync(
            () => checkers.All(c => live.All(k => Latest(k.Key.Name, c.Name) is { } a && a.Sent > backAt && a.Served)),
            deadline: backAt + TimeSpan.FromSeconds(20));
        await stop.CancelAsync();
        await Task.WhenAll(load);

        var problems = new List<string>();
        problems.AddRange(deletions.Where(d => d.Outcome != "200").Select(d => $"The DELETE of {d.Key} answered {d.Outcome}."));
        foreach (var deleted in deletions)
        {
            problems.AddRange(ServedPastBound(deleted.Key, deleted.Answered));
        }

        if (!liveAgain)
        {
            problems.Add($"20 s after Redis was back, live keys did not pass everywhere: {LatestOf(checkers, [.. live.Select(k => k.Key.Name)])}.");
        }

        problems.AddRange(await LiveRecordsInRedisAsync(doomed));
        output.WriteLine($"Redis stopped at {stoppedAt.TotalSeconds:F1} s, back at {backAt.TotalSeconds:F1} s. While down: {Tally(_answers.Where(a => a.Sent > stoppedAt && a.Sent < backAt))}");
        output.WriteLine($"After: {Tally(_answers.Where(a => a.Sent >= backAt))}");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>
    /// Thousands of cached keys deleted as fast as the API allows are all refused by both gateways within the bound of
    /// the last DELETE: invalidations are not lost, reordered past the bound or throttled into a queue.
    /// </summary>
    [Fact]
    public async Task TwoThousandCachedKeysDeletedAtOnceAreAllRefusedByBothGatewaysWithinTheBound()
    {
        const int count = 2_000;
        var project = await _admin.CreateProjectAsync("Bulk revocation");
        var keys = new CreatedKeyDto[count];
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            keys[i] = await _admin.CreateKeyAsync(project.Id, "dev", $"bulk-{i:D4}", "secret", ct));
        var created = clock.Elapsed;

        // Refusals count against a client address: 4,000 of them are spread over 64 addresses per gateway.
        var gateways = await GatewaysAsync(subnet: 15, addresses: 64);
        var pairs = Enumerable.Range(0, count).SelectMany(key => Enumerable.Range(0, gateways.Count).Select(gateway => (Key: key, Gateway: gateway))).ToList();
        await Parallel.ForEachAsync(pairs, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (pair, ct) =>
            Assert.Equal(Answer.Ok, await gateways[pair.Gateway].AskAsync(keys[pair.Key].Value, ct)));
        var cached = clock.Elapsed;

        // Each (key, gateway) is asked again and again from the moment its DELETE answers, until it is refused.
        var deleteAnswered = new TimeSpan[count];
        var refusedAt = new TimeSpan?[count, gateways.Count];
        var refusal = new string?[count, gateways.Count];
        var queue = Channel.CreateUnbounded<(int Key, int Gateway)>();
        var pending = pairs.Count;
        using var stopSweeping = new CancellationTokenSource();
        var sweepers = Enumerable.Range(0, 16).Select(_ => SweepAsync()).ToList();

        var deletesStarted = _clock.Elapsed;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            using var response = await _admin.DeleteKeyAsync(project.Id, "dev", keys[i].Key.Id, keys[i].Key.Name, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            deleteAnswered[i] = _clock.Elapsed;
            for (var gateway = 0; gateway < gateways.Count; gateway++)
            {
                queue.Writer.TryWrite((i, gateway));
            }
        });
        var lastDelete = deleteAnswered.Max();
        stopSweeping.CancelAfter(Max(lastDelete + (2 * Bound) - _clock.Elapsed, TimeSpan.Zero));
        await Task.WhenAll(sweepers);

        var late = pairs.Where(p => refusedAt[p.Key, p.Gateway] is not { } at || at > lastDelete + Bound).ToList();
        var notRevoked = pairs.Where(p => refusal[p.Key, p.Gateway] is { } r && r != Answer.Revoked).ToList();
        var afterOwnDelete = pairs.Where(p => refusedAt[p.Key, p.Gateway] is not null)
            .Select(p => (refusedAt[p.Key, p.Gateway]!.Value - deleteAnswered[p.Key]).TotalMilliseconds).Order().ToList();
        var afterLast = pairs.Where(p => refusedAt[p.Key, p.Gateway] is not null).Select(p => refusedAt[p.Key, p.Gateway]!.Value - lastDelete).DefaultIfEmpty().Max();
        output.WriteLine(
            $"Created {count} keys in {created.TotalSeconds:F1} s, cached them on {gateways.Count} gateways in {(cached - created).TotalSeconds:F1} s, " +
            $"deleted them in {(lastDelete - deletesStarted).TotalSeconds:F1} s. First refusal after the key's own DELETE (ms): " +
            $"p50 {Percentile(afterOwnDelete, 0.5):F0}, p99 {Percentile(afterOwnDelete, 0.99):F0}, max {afterOwnDelete.LastOrDefault():F0}; " +
            $"latest refusal {afterLast.TotalMilliseconds:F0} ms after the last DELETE; refusals: " +
            string.Join(", ", pairs.GroupBy(p => refusal[p.Key, p.Gateway] ?? "none").Select(g => $"{g.Key} x{g.Count()}")));

        Assert.True(
            late.Count == 0,
            $"{late.Count} of {pairs.Count} (key, gateway) pairs were not refused within {Bound.TotalSeconds} s of the last DELETE, e.g. " +
            string.Join("; ", late.Take(5).Select(p => $"bulk-{p.Key:D4} on gateway-{p.Gateway}: " +
                (refusedAt[p.Key, p.Gateway] is { } at ? $"refused {Since(at, lastDelete)}" : "still 200"))));
        Assert.True(
            notRevoked.Count == 0,
            $"{notRevoked.Count} refusals were not 401 TOKEN_REVOKED, e.g. {string.Join("; ", notRevoked.Take(5).Select(p => refusal[p.Key, p.Gateway]))}");

        async Task SweepAsync()
        {
            try
            {
                while (await queue.Reader.WaitToReadAsync(stopSweeping.Token))
                {
                    while (queue.Reader.TryRead(out var pair))
                    {
                        var outcome = await gateways[pair.Gateway].AskAsync(keys[pair.Key].Value, stopSweeping.Token);
                        if (outcome == Answer.Ok)
                        {
                            await Task.Delay(20, stopSweeping.Token);
                            queue.Writer.TryWrite(pair);
                            continue;
                        }

                        refusedAt[pair.Key, pair.Gateway] = _clock.Elapsed;
                        refusal[pair.Key, pair.Gateway] = outcome;
                        if (Interlocked.Decrement(ref pending) == 0)
                        {
                            queue.Writer.TryComplete();
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stopSweeping.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>
    /// KeyValidation killed outright (no graceful stop, so no goodbye on the Watch streams) while the gateways cache
    /// keys: the gateways fail closed within the bound, never serve a key deleted meanwhile, and once KeyValidation is
    /// back they pass live keys, refuse the deleted one, and revoke within a healthy system's bound again.
    /// </summary>
    [Fact]
    public async Task WhenKeyValidationIsKilledGatewaysFailClosedAndRecoverWithRevocationsIntact()
    {
        var project = await _admin.CreateProjectAsync("KeyValidation killed");
        var cached = await _admin.CreateKeyAsync(project.Id, "dev", "cached-through-outage", "secret");
        var doomed = await _admin.CreateKeyAsync(project.Id, "dev", "deleted-during-outage", "secret");
        var gateways = await GatewaysAsync(subnet: 16);
        await CacheEverywhereAsync(gateways, cached.Value, doomed.Value);
        var replicas = await fixture.GetReplicaIdsAsync("key-validation", replicas: 2);

        using var stop = new CancellationTokenSource();
        var polls = gateways.Select(g => PollAsync(g, [("C", cached.Value), ("X", doomed.Value)], stop.Token)).ToList();
        var killedAt = TimeSpan.Zero;
        Task<DeleteResult> deletion = null!;
        await fixture.KillAsync("key-validation", replicas, killed: () =>
        {
            killedAt = _clock.Elapsed;
            deletion = DeleteAsync(project.Id, doomed, "X");
        });
        var deleted = await deletion;
        await DelayUntilAsync(Max(killedAt, deleted.Answered) + Bound + TimeSpan.FromSeconds(1));
        var restartAt = _clock.Elapsed;
        await stop.CancelAsync();
        await Task.WhenAll(polls);

        var problems = new List<string>();
        if (deleted.Outcome != "200")
        {
            problems.Add($"The DELETE during the outage answered {deleted.Outcome}.");
        }

        problems.AddRange(RefusedWithin("C", killedAt, Bound, gateways, refusal: a => a.Outcome == Answer.Unavailable));
        problems.AddRange(ServedPastBound("X", deleted.Answered));
        foreach (var gateway in gateways)
        {
            // Once a gateway has said it cannot check keys, anything it lets through is unchecked.
            var closedAt = _answers.Where(a => a.Endpoint == gateway.Name && a.At > killedAt && a.Outcome == Answer.Unavailable).MinBy(a => a.At)?.At;
            var served = _answers.Where(a => a.Endpoint == gateway.Name && a.Sent > closedAt && a.Served).ToList();
            if (served.Count > 0)
            {
                problems.Add($"{gateway.Name} failed closed, then served again while KeyValidation was down: {string.Join(", ", served.Take(3))}.");
            }
        }

        output.WriteLine($"Killed at {killedAt.TotalSeconds:F2} s, X deleted in {deleted.Took.TotalSeconds:F2} s; outage answers: {Tally(_answers)}");

        await fixture.RecoverAsync();
        var backAt = _clock.Elapsed;
        foreach (var gateway in gateways)
        {
            var recovered = await WaitUntilAsync(
                async () => await gateway.AskAsync(cached.Value, CancellationToken.None) == Answer.Ok
                    && await gateway.AskAsync(doomed.Value, CancellationToken.None) == Answer.Revoked,
                deadline: backAt + TimeSpan.FromSeconds(30));
            if (!recovered)
            {
                problems.Add($"{gateway.Name} did not answer C 200 and X 401 TOKEN_REVOKED within 30 s of KeyValidation's return " +
                    $"(now C {await gateway.AskAsync(cached.Value, CancellationToken.None)}, X {await gateway.AskAsync(doomed.Value, CancellationToken.None)}).");
            }
        }

        output.WriteLine($"KeyValidation restarted {(backAt - restartAt).TotalSeconds:F1} s after the outage; gateways recovered {Since(_clock.Elapsed, backAt)}");
        problems.AddRange(await RevokedEverywhereWithinAsync(project.Id, gateways, HealthyBound, "deleted-after-recovery"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    // ---- Faults' shared steps ----

    /// <summary>
    /// Makes <paramref name="count"/> invalidations as fast as KeyAdmin takes them: rolling a key with no grace
    /// period revokes the old one at once, one invalidation per call, and several chains of rolls run side by side.
    /// <paramref name="then"/> runs once <paramref name="after"/> of them are made, while the others go on.
    /// </summary>
    private async Task MakeInvalidationsAsync(string projectId, int count, int after, Func<Task> then)
    {
        const int chains = 8;
        var made = 0;
        await Task.WhenAll(Enumerable.Range(0, chains).Select(async chain =>
        {
            var keyId = (await _admin.CreateKeyAsync(projectId, "dev", $"rolled-{chain}", "secret")).Key.Id;
            for (var i = chain; i < count; i += chains)
            {
                keyId = (await _admin.RollKeyAsync(projectId, "dev", keyId, gracePeriodSeconds: 0)).Key.Id;
                if (Interlocked.Increment(ref made) == after)
                {
                    await then();
                }
            }
        }));
    }

    private async Task<ChangesResponse> ChangesAsync(long since, int limit = 0)
    {
        var keyAdmin = fixture.CreateKeyAdminInternalClient(out var channel);
        using var disposeChannel = channel;
        return await keyAdmin.ChangesAsync(new ChangesRequest { SinceSequence = since, Limit = limit });
    }

    /// <summary>The outbox sequence of the first change to a key after <paramref name="since"/>.</summary>
    private async Task<long> SequenceOfAsync(string keyHashHex, long since)
    {
        while (true)
        {
            var changes = await ChangesAsync(since);
            if (changes.Changes.FirstOrDefault(c => Convert.ToHexString(c.KeyHash.Span) == keyHashHex) is { } change)
            {
                return change.Sequence;
            }

            Assert.NotEmpty(changes.Changes);
            since = changes.Changes[^1].Sequence;
        }
    }

    /// <summary>
    /// After a fault: a new key passes both gateways, and once deleted both refuse it, all before
    /// <paramref name="deadline"/>. KeyAdmin may still be coming back, so each call is given a short time only.
    /// </summary>
    private async Task<IReadOnlyList<string>> ServesNormallyAsync(string projectId, TimeSpan deadline, int subnet)
    {
        var gateways = await GatewaysAsync(subnet);
        CreatedKeyDto? key = null;
        var lastFailure = "";
        while (key is null && _clock.Elapsed < deadline)
        {
            using var attempt = new CancellationTokenSource(Min(TimeSpan.FromSeconds(2), Max(deadline - _clock.Elapsed, TimeSpan.FromMilliseconds(1))));
            try
            {
                key = await _admin.CreateKeyAsync(projectId, "dev", $"after-fault-{Guid.NewGuid():N}"[..24], "secret", attempt.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                lastFailure = ex is OperationCanceledException ? "no answer within 2 s" : ex.Message;
                await Task.Delay(200);
            }
        }

        if (key is null)
        {
            return [$"KeyAdmin could not create a key in time after the fault ({lastFailure})."];
        }

        var problems = new List<string>();
        foreach (var gateway in gateways)
        {
            if (!await WaitUntilAsync(async () => await gateway.AskAsync(key.Value, CancellationToken.None) == Answer.Ok, deadline))
            {
                problems.Add($"{gateway.Name} did not pass a new key in time: {await gateway.AskAsync(key.Value, CancellationToken.None)}.");
            }
        }

        var deleted = await DeleteAsync(projectId, key, "new key");
        if (deleted.Outcome != "200" || deleted.Answered > deadline)
        {
            problems.Add($"Deleting the new key answered {deleted.Outcome} after {deleted.Took.TotalSeconds:F1} s.");
        }

        foreach (var gateway in gateways)
        {
            if (!await WaitUntilAsync(async () => await gateway.AskAsync(key.Value, CancellationToken.None) == Answer.Revoked, deadline))
            {
                problems.Add($"{gateway.Name} did not refuse the deleted new key in time: {await gateway.AskAsync(key.Value, CancellationToken.None)}.");
            }
        }

        return problems;
    }

    /// <summary>A new key, cached by every gateway, then deleted: each gateway must refuse it within <paramref name="bound"/>.</summary>
    private async Task<IReadOnlyList<string>> RevokedEverywhereWithinAsync(string projectId, IReadOnlyList<KeyChecker> gateways, TimeSpan bound, string name)
    {
        var key = await _admin.CreateKeyAsync(projectId, "dev", name, "secret");
        await CacheEverywhereAsync(gateways, key.Value);
        var deleted = await DeleteAsync(projectId, key, name);
        var problems = new List<string>();
        foreach (var gateway in gateways)
        {
            if (!await WaitUntilAsync(async () => await gateway.AskAsync(key.Value, CancellationToken.None) != Answer.Ok, deleted.Answered + bound))
            {
                problems.Add($"{gateway.Name} still passed {name} {bound.TotalSeconds} s after its DELETE.");
            }
            else if (await gateway.AskAsync(key.Value, CancellationToken.None) is var outcome && outcome != Answer.Revoked)
            {
                problems.Add($"{gateway.Name} refused {name} with {outcome}, not {Answer.Revoked}.");
            }
        }

        return problems;
    }

    /// <summary>Each key passes each gateway twice: the first answer comes from KeyValidation, the second from the near cache.</summary>
    private static async Task CacheEverywhereAsync(IReadOnlyList<KeyChecker> gateways, params string[] keys)
    {
        foreach (var gateway in gateways)
        {
            foreach (var key in keys.Concat(keys))
            {
                Assert.Equal(Answer.Ok, await gateway.AskAsync(key, CancellationToken.None));
            }
        }
    }

    private async Task<List<CreatedKeyDto>> CreateKeysAsync(string projectId, string name, int count)
    {
        var keys = new List<CreatedKeyDto>();
        for (var i = 0; i < count; i++)
        {
            keys.Add(await _admin.CreateKeyAsync(projectId, "dev", $"{name}-{i}", "secret"));
        }

        return keys;
    }

    /// <summary>What a DELETE answered, and when it was sent and answered on the test's clock.</summary>
    private sealed record DeleteResult(string Key, TimeSpan Sent, TimeSpan Answered, string Outcome)
    {
        public TimeSpan Took => Answered - Sent;
    }

    /// <summary>Deletes a key at <paramref name="at"/> (or now), and says what it answered and when.</summary>
    private async Task<DeleteResult> DeleteAsync(string projectId, CreatedKeyDto key, string label, TimeSpan? at = null)
    {
        if (at is { } start)
        {
            await DelayUntilAsync(start);
        }

        var sent = _clock.Elapsed;
        using var patience = new CancellationTokenSource(DeletePatience);
        string outcome;
        try
        {
            using var response = await _admin.DeleteKeyAsync(projectId, "dev", key.Key.Id, key.Key.Name, patience.Token);
            outcome = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException ex)
        {
            outcome = $"no answer ({ex.Message})";
        }
        catch (OperationCanceledException)
        {
            outcome = $"no answer within {DeletePatience.TotalSeconds} s";
        }

        var result = new DeleteResult(label, sent, _clock.Elapsed, outcome);
        output.WriteLine($"DELETE {label} sent at {sent.TotalSeconds:F2} s: {outcome} after {result.Took.TotalSeconds:F2} s");
        return result;
    }

    /// <summary>Deletes a key, then polls it on every gateway (from when the DELETE answers) until <paramref name="stop"/>.</summary>
    private async Task<(DeleteResult Result, Task Polls)> DeleteThenPollAsync(
        string projectId, CreatedKeyDto key, string label, TimeSpan at, IReadOnlyList<KeyChecker> gateways, CancellationToken stop)
    {
        var result = await DeleteAsync(projectId, key, label, at);
        return (result, Task.WhenAll(gateways.Select(g => PollAsync(g, [(label, key.Value)], stop))));
    }

    /// <summary>Records from Redis that would let a deleted key pass: a lookup that raced a change wrote back what it had read before.</summary>
    private async Task<IReadOnlyList<string>> LiveRecordsInRedisAsync(IEnumerable<CreatedKeyDto> deleted)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync((await fixture.App.GetConnectionStringAsync("redis"))!);
        var store = new RedisRecordStore(redis, Options.Create(new KeyValidationOptions()));
        var problems = new List<string>();
        // Only the current epoch's records can be read by any replica.
        if ((await store.ReadEpochAsync()).Epoch is not { } epoch)
        {
            return problems;
        }

        foreach (var key in deleted)
        {
            var (found, record) = await store.TryGetAsync(KeyHash.Of(key.Value), epoch);
            if (found && record is not null && (record.RevokesAt is null || record.RevokesAt.ToDateTimeOffset() > DateTimeOffset.UtcNow))
            {
                problems.Add($"Redis holds a live record for {key.Key.Name}, which was deleted: any replica reading it would pass the key.");
            }
        }

        return problems;
    }

    // ---- Asking gateways and KeyValidation replicas, and judging the answers ----

    /// <summary>Something that says whether it lets a key through: a gateway replica, or a KeyValidation replica.</summary>
    private sealed record KeyChecker(string Name, Func<string, CancellationToken, Task<string>> AskAsync);

    /// <summary>What a checker answered for a key, sent and answered when, on the test's clock.</summary>
    private sealed record Answer(TimeSpan Sent, TimeSpan At, string Endpoint, string Key, string Outcome)
    {
        public const string Ok = "200";
        public const string Revoked = "401 TOKEN_REVOKED";
        public const string Unavailable = "503 SERVICE_UNAVAILABLE";

        /// <summary>The key was let through: 200 from a gateway, VALID from KeyValidation.</summary>
        public bool Served => IsServed(Outcome);

        public static bool IsServed(string outcome) => outcome is Ok or nameof(ValidationOutcome.Valid);

        public override string ToString() => $"{Key} {Outcome} from {Endpoint} (sent at {Sent.TotalSeconds:F2} s)";
    }

    /// <summary>Both gateway replicas, each asked directly (not through DCP's proxy) from its own pool of client addresses.</summary>
    private async Task<IReadOnlyList<KeyChecker>> GatewaysAsync(int subnet, int addresses = 32)
    {
        var replicas = await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2);
        var locals = LoopbackClients.Addresses(subnet, addresses);
        return [.. replicas.Select((address, i) =>
        {
            var clients = new LoopbackClientPool(address, locals);
            _disposables.Add(clients);
            return new KeyChecker($"gateway-{i}", (key, ct) => AskGatewayAsync(clients.Next(), key, ct));
        })];
    }

    private async Task<IReadOnlyList<KeyChecker>> KeyValidationReplicasAsync()
    {
        var replicas = await fixture.GetReplicaAddressesAsync("key-validation", "grpc", replicas: 2);
        return [.. replicas.Select((address, i) =>
        {
            var channel = fixture.ServiceChannel(address);
            _disposables.Add(channel);
            var client = new KeyValidationService.KeyValidationServiceClient(channel);
            return new KeyChecker($"key-validation-{i}", (key, ct) => AskKeyValidationAsync(client, key, ct));
        })];
    }

    private static async Task<string> AskGatewayAsync(HttpClient client, string key, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(AnswerTimeout);
        try
        {
            using var response = await client.SendAsync(GatewayResponses.Get("/demo/public/x", key), timeout.Token);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return Answer.Ok;
            }

            var body = await response.Content.ReadAsStringAsync(timeout.Token);
            try
            {
                return $"{(int)response.StatusCode} {JsonSerializer.Deserialize<ErrorBody>(body, JsonSerializerOptions.Web)?.Error}";
            }
            catch (JsonException)
            {
                return $"{(int)response.StatusCode} (not an error body)";
            }
        }
        catch (HttpRequestException ex)
        {
            return $"no answer ({ex.HttpRequestError})";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {AnswerTimeout.TotalSeconds} s";
        }
    }

    private static async Task<string> AskKeyValidationAsync(KeyValidationService.KeyValidationServiceClient client, string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await client.ValidateAsync(
                new ValidateRequest { Key = key }, deadline: DateTime.UtcNow + AnswerTimeout, cancellationToken: cancellationToken);
            return response.Outcome.ToString();
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return $"rpc {ex.StatusCode}";
        }
    }

    /// <summary>Asks <paramref name="checker"/> about each key in turn, again and again until <paramref name="stop"/>, logging every answer.</summary>
    private async Task PollAsync(KeyChecker checker, IReadOnlyList<(string Label, string Value)> keys, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var (label, value) in keys)
                {
                    var sent = _clock.Elapsed;
                    var outcome = await checker.AskAsync(value, stop);
                    _answers.Enqueue(new Answer(sent, _clock.Elapsed, checker.Name, label, outcome));
                }

                await Task.Delay(PollPause, stop);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException && stop.IsCancellationRequested)
        {
        }
    }

    private Answer? Latest(string key, string endpoint) =>
        _answers.Where(a => a.Key == key && a.Endpoint == endpoint).MaxBy(a => a.At);

    private string LatestOf(IEnumerable<KeyChecker> checkers, params string[] keys) =>
        string.Join(", ", checkers.SelectMany(c => keys.Select(k => $"{k}@{c.Name}: {Latest(k, c.Name)?.Outcome ?? "never asked"}")));

    /// <summary>Every answer that let <paramref name="key"/> through although it was asked past the bound of its DELETE.</summary>
    private IEnumerable<string> ServedPastBound(string key, TimeSpan deleteAnswered) =>
        _answers.Where(a => a.Key == key && a.Served && a.Sent > deleteAnswered + Bound).GroupBy(a => a.Endpoint).Select(g =>
            $"{key} was let through by {g.Key} {g.Count()} times past the bound: asked from {Since(g.Min(a => a.Sent), deleteAnswered)} " +
            $"to {Since(g.Max(a => a.Sent), deleteAnswered)} its DELETE answered.");

    /// <summary>Each gateway must have refused <paramref name="key"/> within <paramref name="within"/> of <paramref name="from"/>.</summary>
    private IEnumerable<string> RefusedWithin(string key, TimeSpan from, TimeSpan within, IEnumerable<KeyChecker> gateways, Func<Answer, bool> refusal)
    {
        foreach (var gateway in gateways)
        {
            var first = _answers.Where(a => a.Key == key && a.Endpoint == gateway.Name && a.At > from && refusal(a)).MinBy(a => a.At);
            if (first is null || first.At > from + within)
            {
                var outcomes = _answers.Where(a => a.Key == key && a.Endpoint == gateway.Name && a.At > from && a.At <= from + within)
                    .GroupBy(a => a.Outcome).Select(g => $"{g.Key} x{g.Count()}");
                yield return $"{gateway.Name} did not refuse {key} within {within.TotalSeconds} s: " +
                    (first is null ? "never" : $"first refused {Since(first.At, from)}") + $"; meanwhile it answered {string.Join(", ", outcomes)}.";
            }
        }
    }

    private static string Tally(IEnumerable<Answer> answers) =>
        string.Join("; ", answers.GroupBy(a => (a.Endpoint, a.Key)).OrderBy(g => g.Key)
            .Select(g => $"{g.Key.Key}@{g.Key.Endpoint}: " + string.Join(", ", g.GroupBy(a => a.Outcome).Select(o => $"{o.Key} x{o.Count()}"))));

    // ---- Time ----
    private async Task DelayUntilAsync(TimeSpan at)
    {
        var wait = at - _clock.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
    }

    private Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan deadline) => WaitUntilAsync(() => Task.FromResult(condition()), deadline);

    private async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan deadline)
    {
        while (!await condition())
        {
            if (_clock.Elapsed >= deadline)
            {
                return false;
            }

            await Task.Delay(PollPause);
        }

        return true;
    }

    private static string Since(TimeSpan at, TimeSpan from) =>
        at >= from ? $"{(at - from).TotalSeconds:F2} s after" : $"{(from - at).TotalSeconds:F2} s before";

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static double Percentile(IReadOnlyList<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p * sorted.Count))];

    /// <summary>
    /// A Watch client as a gateway is one: a cache of keys it holds, which an invalidation, a flush or the end of the
    /// stream empties, and a check that the stream never moves past a sequence it has not delivered without a flush.
    /// </summary>
    private sealed class WatchingClient
    {
        private readonly HashSet<string> _held = [];
        private readonly HashSet<long> _delivered = [];

        /// <summary>Every invalidation up to here was delivered, or covered by a flush; -1 before the first event.</summary>
        public long Last { get; private set; } = -1;

        public List<string> Gaps { get; } = [];

        public long Missed { get; private set; }

        public int Invalidations { get; private set; }

        public int Flushes { get; private set; }

        public int Heartbeats { get; private set; }

        public void Hold(string keyHashHex) => _held.Add(keyHashHex);

        public bool Holds(string keyHashHex) => _held.Contains(keyHashHex);

        public bool Delivered(long sequence) => _delivered.Contains(sequence);

        /// <summary>Applies an event as the gateway does: an invalidation must be the next sequence, a heartbeat must be where the client is.</summary>
        public void Apply(WatchEvent watchEvent)
        {
            switch (watchEvent.EventCase)
            {
                case WatchEvent.EventOneofCase.Heartbeat:
                    Heartbeats++;
                    var at = watchEvent.Heartbeat.Sequence;
                    if (Last >= 0 && at != Last)
                    {
                        // It vouches for (Last, at] without having sent it: what was not sent is lost to the client.
                        Gaps.Add($"a heartbeat at {at} after {Last}");
                        Missed += Math.Max(0, at - Last);
                    }

                    Last = Math.Max(Last, at);
                    break;
                case WatchEvent.EventOneofCase.Flush:
                    Flushes++;
                    _held.Clear();
                    Last = watchEvent.Flush.Sequence;
                    break;
                case WatchEvent.EventOneofCase.Invalidation:
                    Invalidations++;
                    var sequence = watchEvent.Invalidation.Sequence;
                    _held.Remove(Convert.ToHexString(watchEvent.Invalidation.KeyHash.Span));
                    _delivered.Add(sequence);
                    if (Last >= 0 && sequence != Last + 1)
                    {
                        Gaps.Add($"after {Last} came {sequence}");
                        Missed += Math.Max(0, sequence - Last - 1);
                    }

                    Last = Math.Max(Last, sequence);
                    break;
            }
        }

        public bool CaughtUp(long head) => Last >= head;

        /// <summary>The stream has caught up, or ended; an end is as good as a flush, because the client flushes then.</summary>
        public void Finish(bool ended)
        {
            if (ended)
            {
                _held.Clear();
            }
        }

        public override string ToString() =>
            $"[client: {Invalidations} invalidations, {Flushes} flushes, {Heartbeats} heartbeats; at {Last}]";
    }
}
