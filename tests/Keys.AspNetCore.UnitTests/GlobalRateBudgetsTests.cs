using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.RateLimiting;
using Keys.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// <c>global</c> limits, leased from KeyValidation's shared counter (played here by <see cref="BudgetServer"/>, which
/// grants as the real one does: min(requested, limit − used) per key and window). Requests spend leases locally; the
/// next lease is prefetched before the budget runs dry; one lease is in flight per key and window; a window's leases
/// end with it; KeyValidation failing is a 503, never a pass; and replicas together stay at the limit.
/// </summary>
public sealed class GlobalRateBudgetsTests
{
    private const string KeyId = "key_0123456789abcdefghijkl";
    private static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(2);

    // The start of a window of 60 s (and of 1 s): Unix time 1,800,000,000 is a multiple of 60.
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));

    [Fact]
    public async Task ConcurrentRequestsFindingNoBudgetShareOneLeaseInFlight()
    {
        var server = new BudgetServer { Held = true };
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(1000, 60);

        var requests = Enumerable.Range(0, 20).Select(_ => budgets.AcquireAsync(KeyId, rule, default).AsTask()).ToArray();
        await server.UntilCallsAsync(1);
        await Task.Delay(50);

        Assert.Equal(1, server.Calls);
        Assert.All(requests, r => Assert.False(r.IsCompleted));
        server.Release();
        var decisions = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.All(decisions, d => Assert.Null(d.Refusal));
        Assert.Equal(1, server.MaxInFlight);
    }

    [Fact]
    public async Task NextLeaseIsAskedForWhileTheCurrentOneStillHasBudgetLeft()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(10_000, 60);
        // Enough traffic that leases grow beyond one request.
        for (var i = 0; i < 50; i++)
        {
            Assert.Null((await budgets.AcquireAsync(KeyId, rule, default)).Refusal);
        }

        server.Held = true;
        var calls = server.Calls;
        var passedWithoutWaiting = 0;
        while (server.Calls == calls)
        {
            var request = budgets.AcquireAsync(KeyId, rule, default);
            Assert.True(request.IsCompletedSuccessfully, "A request waited before the next lease was even asked for.");
            Assert.Null((await request).Refusal);
        }

        // The prefetch is in flight and held: what is left of the current lease still serves requests at once.
        ValueTask<RateLimitDecision> next;
        while ((next = budgets.AcquireAsync(KeyId, rule, default)).IsCompletedSuccessfully)
        {
            Assert.Null((await next).Refusal);
            passedWithoutWaiting++;
        }

        Assert.True(passedWithoutWaiting >= 1, "The next lease was asked for only once the budget had run dry.");
        Assert.Equal(calls + 1, server.Calls);
        server.Release();
        Assert.Null((await next).Refusal);
    }

    [Fact]
    public async Task LeasesAreSizedToTheTrafficAndNeverAboveTheLeaseFractionOfTheLimit()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(10_000, 60);

        for (var i = 0; i < 2000; i++)
        {
            await budgets.AcquireAsync(KeyId, rule, default);
        }

        Assert.Equal(1, server.Requested[0]);
        Assert.All(server.Requested, r => Assert.InRange(r, 1, budgets.MaxLease(rule)));
        Assert.Equal(200, budgets.MaxLease(rule));
        Assert.Equal(200, server.Requested[^1]);
        // Far fewer calls than requests: no round trip per request.
        Assert.InRange(server.Calls, 1, 40);
    }

    [Fact]
    public async Task LeasesCatchUpWithTrafficThatStartsLateInALongWindow()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        // An hourly window, and a limit whose 2 % (200,000) is far above what half a second of this traffic needs.
        var rule = KeyRateLimit.Global(10_000_000, 3600);
        _time.Advance(TimeSpan.FromMinutes(59));

        // 2,000 requests a second, one every half millisecond, for three seconds: half a second of it is 1,000.
        for (var i = 0; i < 6000; i++)
        {
            Assert.Null((await budgets.AcquireAsync(KeyId, rule, default)).Refusal);
            _time.Advance(TimeSpan.FromTicks(TimeSpan.TicksPerMillisecond / 2));
        }

        // 1, 6, 15, 55, 175, 575, then 1,000 each: the seventh lease is half a second of the traffic.
        var requested = server.Requested;
        Assert.True(requested.Length <= 20, $"{requested.Length} leases for 6,000 requests: {string.Join(", ", requested.Take(20))}…");
        Assert.All(requested.Skip(6), r => Assert.InRange(r, 900, 1100));
    }

    [Fact]
    public async Task ARaisedLimitIsAskedForAtOnceOnAKeyThatHadSpentTheOldOne()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        _time.Advance(TimeSpan.FromSeconds(20));
        var passed = 0;
        for (var i = 0; i < 3; i++)
        {
            passed += (await budgets.AcquireAsync(KeyId, KeyRateLimit.Global(2, 60), default)).Refusal is null ? 1 : 0;
        }

        Assert.Equal(2, passed);

        // Raised within the window: the shared counter still holds the 2 spent, so 8 more pass and no more.
        var raised = KeyRateLimit.Global(10, 60);
        var decisions = new List<RateLimitDecision>();
        for (var i = 0; i < 10; i++)
        {
            decisions.Add(await budgets.AcquireAsync(KeyId, raised, default));
        }

        Assert.All(decisions.Take(8), d => Assert.Null(d.Refusal));
        Assert.All(decisions.Skip(8), d => Assert.Equal("RATE_LIMITED", d.Refusal?.Error));
        Assert.Equal(10, server.Used(KeyId, 1_800_000_000, 60));
        Assert.Equal(10, server.Limits[^1]);
    }

    [Fact]
    public async Task ALoweredLimitAppliesAtOnceAndWhatWasLeasedUnderTheHigherOneIsNotSpent()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        for (var i = 0; i < 50; i++)
        {
            Assert.Null((await budgets.AcquireAsync(KeyId, KeyRateLimit.Global(10_000, 60), default)).Refusal);
        }

        Assert.True(server.Used(KeyId, 1_800_000_000, 60) > 50, "Nothing was leased ahead: the test would prove nothing.");

        var lowered = await budgets.AcquireAsync(KeyId, KeyRateLimit.Global(40, 60), default);

        Assert.Equal("RATE_LIMITED", lowered.Refusal?.Error);
        Assert.Equal(40, server.Limits[^1]);
    }

    [Fact]
    public async Task ANewWindowLengthIsAnotherCounterAndTheOldOneStaysSpent()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        var (minute, halfMinute) = (KeyRateLimit.Global(2, 60), KeyRateLimit.Global(2, 30));
        for (var i = 0; i < 3; i++)
        {
            await budgets.AcquireAsync(KeyId, minute, default);
        }

        var shorter = await budgets.AcquireAsync(KeyId, halfMinute, default);
        var back = await budgets.AcquireAsync(KeyId, minute, default);

        Assert.Null(shorter.Refusal);
        Assert.InRange(server.Used(KeyId, 1_800_000_000, 30), 1, 2);
        Assert.Equal("RATE_LIMITED", back.Refusal?.Error);
        Assert.Equal(2, server.Used(KeyId, 1_800_000_000, 60));
    }

    [Fact]
    public async Task AKeySwitchedFromGlobalToLocalAndBackFindsTheSharedWindowStillSpent()
    {
        var server = new BudgetServer();
        var validation = new FakeKeyValidation { OnAcquire = (request, _) => server.AcquireAsync(request) };
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var limiter = new ApiKeyRateLimiter(
            validation.Client, _time, Options.Create(new ApiKeyValidationOptions()), services.GetRequiredService<IMeterFactory>());
        ValidatedApiKey Key(RateLimitMode mode) => new(
            new ValidateResponse
            {
                Outcome = ValidationOutcome.Valid,
                KeyId = KeyId,
                RateLimit = new RateLimitRule { Limit = 2, WindowSeconds = 60, Mode = mode },
            },
            ApiKeys.ApiKeyType.Secret,
            _time.GetUtcNow().UtcTicks);

        var global = new List<RateLimitDecision>();
        for (var i = 0; i < 3; i++)
        {
            global.Add(await limiter.AcquireAsync(Key(RateLimitMode.Global), default));
        }

        // Local counts this process alone, from zero; back to global, the shared count is what it was.
        var local = await limiter.AcquireAsync(Key(RateLimitMode.Local), default);
        var globalAgain = await limiter.AcquireAsync(Key(RateLimitMode.Global), default);

        Assert.Equal([null, null, "RATE_LIMITED"], global.Select(d => d.Refusal?.Error));
        Assert.Null(local.Refusal);
        Assert.Equal("RATE_LIMITED", globalAgain.Refusal?.Error);
        Assert.Equal(2, server.Used(KeyId, 1_800_000_000, 60));
    }

    [Fact]
    public async Task ExhaustedWindowIsRefusedUntilItEndsWithoutAskingAgain()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(5, 60);
        _time.Advance(TimeSpan.FromSeconds(20));

        var decisions = new List<RateLimitDecision>();
        for (var i = 0; i < 8; i++)
        {
            decisions.Add(await budgets.AcquireAsync(KeyId, rule, default));
        }

        var calls = server.Calls;
        var again = await budgets.AcquireAsync(KeyId, rule, default);

        Assert.Equal(5, decisions.Count(d => d.Refusal is null));
        Assert.All(decisions.Skip(5).Append(again), d =>
        {
            Assert.Equal("RATE_LIMITED", d.Refusal?.Error);
            Assert.Equal(429, d.Refusal?.StatusCode);
            Assert.Equal(40, d.ResetSeconds);
            Assert.Equal(0, d.Remaining);
        });
        Assert.Equal(calls, server.Calls);

        _time.Advance(TimeSpan.FromSeconds(40));
        Assert.Null((await budgets.AcquireAsync(KeyId, rule, default)).Refusal);
    }

    [Fact]
    public async Task RemainingIsWhatIsLeftOfTheLimitEverywhereAndOfTheBudgetHere()
    {
        var server = new BudgetServer();
        server.Spend(KeyId, 1_800_000_000, 60, 40);
        var budgets = Budgets(server);

        var decision = await budgets.AcquireAsync(KeyId, KeyRateLimit.Global(100, 60), default);

        // 40 spent elsewhere, this request's lease of 1 granted and spent: 59 left.
        Assert.Null(decision.Refusal);
        Assert.Equal(59, decision.Remaining);
        Assert.Equal(60, decision.ResetSeconds);
    }

    [Fact]
    public async Task LeaseAskedForOneWindowIsNotSpentInTheNextAndRequestsThatWaitedMoveToTheNext()
    {
        var server = new BudgetServer { Held = true };
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(10, 1);
        var waiting = budgets.AcquireAsync(KeyId, rule, default).AsTask();
        await server.UntilCallsAsync(1);

        // The window ends while its lease is in flight, and in the next one everything is already spent elsewhere.
        _time.Advance(TimeSpan.FromSeconds(1));
        server.Spend(KeyId, 1_800_000_001, 1, 10);
        server.Release();
        var decision = await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("RATE_LIMITED", decision.Refusal?.Error);
        Assert.Equal([1_800_000_000L, 1_800_000_001L], server.WindowStarts);
        Assert.Equal(1, server.Used(KeyId, 1_800_000_000, 1));
    }

    [Fact]
    public async Task NoLeaseIsAskedForAWindowThatHasEnded()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(1000, 1);
        for (var i = 0; i < 20; i++)
        {
            await budgets.AcquireAsync(KeyId, rule, default);
        }

        _time.Advance(TimeSpan.FromSeconds(1));
        await budgets.AcquireAsync(KeyId, rule, default);

        Assert.Equal(1_800_000_001L, server.WindowStarts[^1]);
        Assert.All(server.WindowStarts, start => Assert.True(start is 1_800_000_000 or 1_800_000_001));
        Assert.Equal(1, server.WindowStarts.Count(start => start == 1_800_000_001));
    }

    [Theory]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.DeadlineExceeded)]
    [InlineData(StatusCode.Unauthenticated)]
    [InlineData(StatusCode.Internal)]
    public async Task KeyValidationFailingIsA503ForEveryRequestThatNeedsALeaseAndNeverAPass(StatusCode failure)
    {
        var server = new BudgetServer { Failure = failure };
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(1000, 60);

        var first = await budgets.AcquireAsync(KeyId, rule, default);
        var soonAfter = budgets.AcquireAsync(KeyId, rule, default);

        Assert.Same(ApiKeyRefusal.ValidationUnavailable, first.Refusal);
        Assert.True(soonAfter.IsCompletedSuccessfully, "A request within a second of a failed lease waited for another call.");
        Assert.Same(ApiKeyRefusal.ValidationUnavailable, (await soonAfter).Refusal);
        Assert.Equal(1, server.Calls);

        // A second later KeyValidation is asked again, and once it answers requests pass.
        _time.Advance(TimeSpan.FromSeconds(1));
        server.Failure = null;
        Assert.Null((await budgets.AcquireAsync(KeyId, rule, default)).Refusal);
        Assert.True(server.Calls >= 2);
    }

    [Fact]
    public async Task RequestsWaitingForALeaseThatFailsAreAll503()
    {
        var server = new BudgetServer { Held = true, Failure = StatusCode.Unavailable };
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(1000, 60);

        var requests = Enumerable.Range(0, 5).Select(_ => budgets.AcquireAsync(KeyId, rule, default).AsTask()).ToArray();
        await server.UntilCallsAsync(1);
        server.Release();

        Assert.All(await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(5)), d => Assert.Same(ApiKeyRefusal.ValidationUnavailable, d.Refusal));
        Assert.Equal(1, server.Calls);
    }

    [Fact]
    public async Task FailedPrefetchLeavesWhatWasLeasedToBeSpent()
    {
        var server = new BudgetServer();
        var budgets = Budgets(server);
        var rule = KeyRateLimit.Global(10_000, 60);
        for (var i = 0; i < 50; i++)
        {
            await budgets.AcquireAsync(KeyId, rule, default);
        }

        server.Failure = StatusCode.Unavailable;
        var calls = server.Calls;
        var passed = 0;
        RateLimitDecision decision;
        while ((decision = await budgets.AcquireAsync(KeyId, rule, default)).Refusal is null)
        {
            passed++;
        }

        Assert.True(server.Calls > calls, "No lease was asked for.");
        Assert.True(passed >= 1, "The budget already leased was thrown away with the failed prefetch.");
        Assert.Same(ApiKeyRefusal.ValidationUnavailable, decision.Refusal);
    }

    [Fact]
    public async Task TwoReplicasHammeringOneKeyPassExactlyTheLimitBetweenThem()
    {
        const int limit = 2000;
        var server = new BudgetServer { Latency = true };
        var replicas = new[] { Budgets(server), Budgets(server) };
        var rule = KeyRateLimit.Global(limit, 60);
        var passed = new int[2];

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var replica = worker % 2;
            for (var i = 0; i < 600; i++)
            {
                if ((await replicas[replica].AcquireAsync(KeyId, rule, default)).Refusal is null)
                {
                    Interlocked.Increment(ref passed[replica]);
                }
            }
        })));

        Assert.True(server.Used(KeyId, 1_800_000_000, 60) <= limit);
        Assert.Equal(limit, passed.Sum());
        Assert.All(passed, p => Assert.True(p > 0));
    }

    [Fact]
    public async Task ReplicaWhoseTrafficStopsHoldsTooLittleForTheOthersToFallMoreThanTenPercentShort()
    {
        const int limit = 1000;
        var server = new BudgetServer { Latency = true };
        var (busy, quiet) = (Budgets(server), Budgets(server));
        var rule = KeyRateLimit.Global(limit, 60);
        var passed = 0;

        // The quiet replica serves a burst, then nothing more this window: whatever it leased and did not spend is lost.
        for (var i = 0; i < 300; i++)
        {
            if ((await quiet.AcquireAsync(KeyId, rule, default)).Refusal is null)
            {
                passed++;
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while ((await busy.AcquireAsync(KeyId, rule, default)).Refusal is null)
            {
                Interlocked.Increment(ref passed);
            }
        })));

        Assert.Equal(limit, server.Used(KeyId, 1_800_000_000, 60));
        Assert.InRange(passed, limit * 9 / 10, limit);
    }

    private GlobalRateBudgets Budgets(BudgetServer server)
    {
        var validation = new FakeKeyValidation { OnAcquire = (request, _) => server.AcquireAsync(request) };
        return new GlobalRateBudgets(validation.Client, _time, LeaseTimeout, leaseFraction: 0.02);
    }

    /// <summary>KeyValidation's AcquireRateBudget as its Lua script answers it, per key and window; calls can be held.</summary>
    private sealed class BudgetServer
    {
        private readonly ConcurrentDictionary<(string, long, int), long> _used = new();
        private readonly Lock _gate = new();
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;
        private int _inFlight;
        private int _maxInFlight;

        /// <summary>Calls wait until <see cref="Release"/>.</summary>
        public bool Held { get; set; }

        /// <summary>Calls yield before answering, as a network call would.</summary>
        public bool Latency { get; set; }

        /// <summary>Calls fail with this status.</summary>
        public StatusCode? Failure { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public int MaxInFlight => Volatile.Read(ref _maxInFlight);

        public ConcurrentQueue<long> RequestedQueue { get; } = new();

        public long[] Requested => [.. RequestedQueue];

        public List<long> WindowStarts { get; } = [];

        /// <summary>The limit each call reported, in order.</summary>
        public List<long> Limits { get; } = [];

        public long Used(string keyId, long start, int window) => _used.GetValueOrDefault((keyId, start, window));

        public void Spend(string keyId, long start, int window, long used) => _used[(keyId, start, window)] = used;

        public void Release()
        {
            Held = false;
            _release.TrySetResult();
        }

        public async Task UntilCallsAsync(int calls)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (Calls < calls)
            {
                await Task.Delay(5, timeout.Token);
            }
        }

        public async Task<AcquireRateBudgetResponse> AcquireAsync(AcquireRateBudgetRequest request)
        {
            Interlocked.Increment(ref _calls);
            var inFlight = Interlocked.Increment(ref _inFlight);
            InterlockedMax(ref _maxInFlight, inFlight);
            try
            {
                RequestedQueue.Enqueue(request.Requested);
                lock (_gate)
                {
                    WindowStarts.Add(request.WindowStart);
                    Limits.Add(request.Limit);
                }

                if (Held)
                {
                    await _release.Task;
                }

                if (Latency)
                {
                    await Task.Yield();
                }

                if (Failure is { } failure)
                {
                    throw new RpcException(new Status(failure, "The fake failed the call."));
                }

                lock (_gate)
                {
                    var key = (request.KeyId, request.WindowStart, request.WindowSeconds);
                    var used = _used.GetValueOrDefault(key);
                    var granted = Math.Max(0, Math.Min(request.Requested, request.Limit - used));
                    _used[key] = used + granted;
                    return new AcquireRateBudgetResponse { Granted = granted, Used = used + granted };
                }
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }

        private static void InterlockedMax(ref int location, int value)
        {
            var current = Volatile.Read(ref location);
            while (value > current && Interlocked.CompareExchange(ref location, value, current) != current)
            {
                current = Volatile.Read(ref location);
            }
        }
    }
}
