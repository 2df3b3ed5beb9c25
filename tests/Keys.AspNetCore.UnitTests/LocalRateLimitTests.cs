using Keys.AspNetCore.RateLimiting;
using Keys.V1;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// Fixed windows aligned to the Unix epoch, and the <c>local</c> counters: exactly the limit passes in each window,
/// however many threads ask at once; the next window starts from zero; keys count apart; ended windows are swept.
/// </summary>
public sealed class LocalRateLimitTests
{
    private static readonly long Epoch = DateTime.UnixEpoch.Ticks;
    private const string KeyId = "key_0123456789abcdefghijkl";

    [Fact]
    public void WindowsAreAlignedToTheUnixEpoch()
    {
        var rule = KeyRateLimit.Local(10, 60);
        var at = Epoch + TimeSpan.FromSeconds(1_700_000_030).Ticks;

        var window = rule.WindowAt(at);

        Assert.Equal(1_700_000_000 / 60 * 60, window.StartSeconds);
        Assert.Equal(0, window.StartSeconds % 60);
        Assert.Equal(Epoch + TimeSpan.FromSeconds(window.StartSeconds + 60).Ticks, window.EndTicks);
    }

    [Fact]
    public void LastTickOfAWindowBelongsToItAndTheNextTickStartsTheNext()
    {
        var rule = KeyRateLimit.Local(10, 60);
        var start = Epoch + TimeSpan.FromSeconds(60 * 1000).Ticks;

        Assert.Equal(rule.WindowAt(start).Index, rule.WindowAt(start + rule.WindowTicks - 1).Index);
        Assert.Equal(rule.WindowAt(start).Index + 1, rule.WindowAt(start + rule.WindowTicks).Index);
        Assert.Equal(rule.WindowAt(start).Index - 1, rule.WindowAt(start - 1).Index);
    }

    [Theory]
    [InlineData(0, 60)]
    [InlineData(1, 60)]
    [InlineData(59_000, 1)]
    [InlineData(59_999, 1)]
    [InlineData(30_500, 30)]
    public void SecondsToResetAreRoundedUpAndAtLeastOne(int millisecondsIntoWindow, int expected)
    {
        var rule = KeyRateLimit.Local(10, 60);
        var at = Epoch + TimeSpan.FromSeconds(60 * 1000).Ticks + TimeSpan.FromMilliseconds(millisecondsIntoWindow).Ticks;

        Assert.Equal(expected, rule.WindowAt(at).SecondsToReset(at));
    }

    [Fact]
    public void ExactlyTheLimitPassesInAWindowAndTheNextWindowStartsFromZero()
    {
        var counters = new LocalRateCounters();
        var rule = KeyRateLimit.Local(3, 10);
        var start = Epoch + TimeSpan.FromSeconds(10 * 5000).Ticks;

        var passed = Enumerable.Range(0, 5).Select(i => counters.TryAcquire(KeyId, rule, start + i, out _)).ToList();
        var lastTick = counters.TryAcquire(KeyId, rule, start + rule.WindowTicks - 1, out _);
        var next = counters.TryAcquire(KeyId, rule, start + rule.WindowTicks, out var remaining);

        Assert.Equal([true, true, true, false, false], passed);
        Assert.False(lastTick);
        Assert.True(next);
        Assert.Equal(2, remaining);
    }

    [Fact]
    public void RemainingCountsDownToZeroAndStaysThere()
    {
        var counters = new LocalRateCounters();
        var rule = KeyRateLimit.Local(2, 10);
        var remaining = new List<long>();

        for (var i = 0; i < 4; i++)
        {
            counters.TryAcquire(KeyId, rule, Epoch, out var left);
            remaining.Add(left);
        }

        Assert.Equal([1, 0, 0, 0], remaining);
    }

    [Fact]
    public void KeysAreCountedApart()
    {
        var counters = new LocalRateCounters();
        var rule = KeyRateLimit.Local(1, 10);

        Assert.True(counters.TryAcquire(KeyId, rule, Epoch, out _));
        Assert.True(counters.TryAcquire("key_other0123456789abcde", rule, Epoch, out _));
        Assert.False(counters.TryAcquire(KeyId, rule, Epoch, out _));
    }

    [Fact]
    public async Task ManyThreadsAtOnceNeverPassMoreThanTheLimit()
    {
        // Enough requests, from more threads than cores, that a count that is not atomic would lose some on the way to
        // the limit and pass more than it; the last thousand requests find it reached.
        const int threads = 8;
        const int perThread = 250_000;
        const int limit = (threads * perThread) - 1000;
        var counters = new LocalRateCounters();
        var rule = KeyRateLimit.Local(limit, 60);
        var passed = 0;
        using var go = new ManualResetEventSlim();

        var workers = Enumerable.Range(0, threads).Select(thread => Task.Factory.StartNew(
            () =>
            {
                go.Wait();
                for (var i = 0; i < perThread; i++)
                {
                    if (counters.TryAcquire(KeyId, rule, Epoch + 1, out _))
                    {
                        Interlocked.Increment(ref passed);
                    }
                }
            },
            TaskCreationOptions.LongRunning)).ToArray();
        go.Set();
        await Task.WhenAll(workers);

        Assert.Equal(limit, passed);
    }

    [Fact]
    public async Task ManyThreadsInOneWindowThenTheNextPassTheLimitInEachExactly()
    {
        const int limit = 500;
        var counters = new LocalRateCounters();
        var rule = KeyRateLimit.Local(limit, 1);

        var first = await PassedAsync(counters, rule, Epoch);
        var second = await PassedAsync(counters, rule, Epoch + rule.WindowTicks);

        Assert.Equal((limit, limit), (first, second));
    }

    [Fact]
    public async Task RequestsThatReadTheClockBeforeTheTurnButCountAfterItAreCountedInTheNewWindow()
    {
        const int limit = 100;
        var counters = new LocalRateCounters();
        var rule = KeyRateLimit.Local(limit, 1);
        Assert.True(counters.TryAcquire(KeyId, rule, Epoch + rule.WindowTicks, out _));

        // Late requests of the ended window and requests of the new one, all at once: one count, never a second.
        var late = PassedAsync(counters, rule, Epoch);
        var current = PassedAsync(counters, rule, Epoch + rule.WindowTicks);

        Assert.Equal(limit - 1, await late + await current);
    }

    [Fact]
    public void ANewLimitTakesEffectOnTheCountSoFar()
    {
        var counters = new LocalRateCounters();
        Assert.True(counters.TryAcquire(KeyId, KeyRateLimit.Local(2, 10), Epoch, out _));
        Assert.True(counters.TryAcquire(KeyId, KeyRateLimit.Local(2, 10), Epoch, out _));

        Assert.True(counters.TryAcquire(KeyId, KeyRateLimit.Local(3, 10), Epoch, out _));
        Assert.False(counters.TryAcquire(KeyId, KeyRateLimit.Local(3, 10), Epoch, out _));
    }

    [Fact]
    public void SweepDropsTheCountersOfEndedWindowsOnlyAndACountedKeyStartsAfresh()
    {
        var counters = new LocalRateCounters();
        var shortRule = KeyRateLimit.Local(1, 1);
        var longRule = KeyRateLimit.Local(1, 3600);
        counters.TryAcquire(KeyId, shortRule, Epoch, out _);
        counters.TryAcquire("key_long0123456789abcdef", longRule, Epoch, out _);

        counters.Sweep(Epoch + shortRule.WindowTicks);

        Assert.Equal(1, counters.Count);
        Assert.True(counters.TryAcquire(KeyId, shortRule, Epoch + shortRule.WindowTicks, out _));
        Assert.False(counters.TryAcquire("key_long0123456789abcdef", longRule, Epoch + shortRule.WindowTicks, out _));
    }

    [Fact]
    public async Task SweepingWhileRequestsCountNeverLetsAWindowPassMoreThanItsLimit()
    {
        // Round after round, every key's counter holds the window that has just ended, a sweeper retires ended windows
        // without pause, and requests of the next window count: each key's first requests race the sweep for its counter
        // (moving it to the new window, or finding it retired and starting another). However that goes, nothing counted
        // is lost: each new window passes exactly its limit, for every key.
        const int limit = 3;
        const int keys = 1000;
        const int rounds = 300;
        const int workers = 3;
        var counters = new LocalRateCounters();
        var rule = KeyRateLimit.Local(limit, 1);
        var ids = Enumerable.Range(0, keys).Select(i => $"key_{i:D22}").ToArray();
        foreach (var id in ids)
        {
            counters.TryAcquire(id, rule, Epoch, out _);
        }

        var round = 1L;
        var passed = new int[keys];
        var wrong = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var barrier = new Barrier(workers, _ =>
        {
            for (var key = 0; key < keys; key++)
            {
                if (passed[key] != limit)
                {
                    wrong.Add($"round {round}, key {key}: {passed[key]} passed");
                }
            }

            Array.Clear(passed);
            Interlocked.Increment(ref round);
        });
        using var stop = new CancellationTokenSource();
        var sweeper = Task.Factory.StartNew(
            () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    counters.Sweep(Epoch + (Volatile.Read(ref round) * rule.WindowTicks));
                }
            },
            TaskCreationOptions.LongRunning);

        await Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Factory.StartNew(
            () =>
            {
                for (var r = 1; r <= rounds; r++)
                {
                    var now = Epoch + (Volatile.Read(ref round) * rule.WindowTicks);
                    for (var request = 0; request < limit + 2; request++)
                    {
                        // Each worker starts elsewhere in the keys, so that they meet the sweeper at different points.
                        for (var k = 0; k < keys; k++)
                        {
                            var key = (k + (worker * keys / workers)) % keys;
                            if (counters.TryAcquire(ids[key], rule, now, out _))
                            {
                                Interlocked.Increment(ref passed[key]);
                            }
                        }
                    }

                    barrier.SignalAndWait();
                }
            },
            TaskCreationOptions.LongRunning)));
        await stop.CancelAsync();
        await sweeper;

        Assert.Equal(rounds + 1, round);
        Assert.Empty(wrong);
    }

    private static async Task<int> PassedAsync(LocalRateCounters counters, KeyRateLimit rule, long at)
    {
        var passed = 0;
        using var go = new ManualResetEventSlim();
        var workers = Enumerable.Range(0, 4).Select(worker => Task.Factory.StartNew(
            () =>
            {
                go.Wait();
                for (var i = 0; i < 1000; i++)
                {
                    if (counters.TryAcquire(KeyId, rule, at, out _))
                    {
                        Interlocked.Increment(ref passed);
                    }
                }
            },
            TaskCreationOptions.LongRunning)).ToArray();
        go.Set();
        await Task.WhenAll(workers);
        return passed;
    }

    [Theory]
    [InlineData(100, 60, "\"key\";q=100;w=60")]
    [InlineData(1_000_000_000, 86_400, "\"key\";q=1000000000;w=86400")]
    public void PolicyHeaderIsAStructuredFieldWithTheLimitAndWindow(long limit, int window, string expected) =>
        Assert.Equal(expected, KeyRateLimit.Local(limit, window).PolicyHeader);

    [Theory]
    [InlineData(42, 17, "\"key\";r=42;t=17")]
    [InlineData(0, 1, "\"key\";r=0;t=1")]
    [InlineData(-5, 3, "\"key\";r=0;t=3")]
    [InlineData(1_000_000_000, 86_400, "\"key\";r=1000000000;t=86400")]
    public void RateLimitHeaderIsAStructuredFieldWithWhatIsLeftAndTheSecondsToReset(long remaining, int reset, string expected) =>
        Assert.Equal(expected, RateLimitHeaders.Format(remaining, reset));

    [Fact]
    public void RuleIsReadFromKeyValidationsAnswerAndNothingIsNoLimit()
    {
        Assert.Null(KeyRateLimit.From(null));
        var local = KeyRateLimit.From(new RateLimitRule { Limit = 5, WindowSeconds = 10, Mode = RateLimitMode.Unspecified })!;
        var global = KeyRateLimit.From(new RateLimitRule { Limit = 5, WindowSeconds = 10, Mode = RateLimitMode.Global })!;
        var odd = KeyRateLimit.From(new RateLimitRule { Limit = -1, WindowSeconds = 0, Mode = RateLimitMode.Local })!;

        Assert.Equal((5L, 10, false), (local.Limit, local.WindowSeconds, local.IsGlobal));
        Assert.True(global.IsGlobal);
        Assert.Equal((0L, 1), (odd.Limit, odd.WindowSeconds));
    }
}
