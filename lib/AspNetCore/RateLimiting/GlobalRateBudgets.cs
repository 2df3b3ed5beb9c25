using System.Collections.Concurrent;
using Keys.V1;

namespace Keys.AspNetCore.RateLimiting;

/// <summary>
/// <c>global</c> limits: budgets leased from KeyValidation's shared counter (<c>AcquireRateBudget</c>) and spent here,
/// so that a request costs what a local limit costs (an interlocked decrement) and never a round trip of its own.
/// </summary>
/// <remarks>
/// <para>Per key and window: the budget left here, the lease in flight (one at a time: single flight), whether the
/// window's limit is spent everywhere, and when a lease last failed. The next lease is prefetched while the current one
/// still has half of itself left; only a request that finds the budget empty waits, for the lease in flight (the
/// window's first request on this replica, or a burst faster than the prefetch), within the lease's deadline.</para>
/// <para>A new limit starts that state afresh within the window (the shared counter keeps the window's count): a raised
/// limit is asked for at once rather than refused as spent until the window ends, and budget leased under a higher
/// limit is never spent under a lower one.</para>
/// <para>Accuracy: KeyValidation never grants past the limit, so the replicas together never allow more than it. What
/// they may allow less by is what was leased and not spent when the window ends (or when the limit changes): at most
/// the lease being spent and the one prefetched, each at most <c>LeaseFraction</c> of the limit (2 %), on each replica
/// whose traffic stopped short. Two replicas: within 8 %. A lease is sized to about half a second of this replica's
/// traffic at the rate since the previous lease (plus the requests waiting), so a quiet replica holds little, and a key
/// whose traffic starts late in a long window is leased its real traffic within a few leases.</para>
/// <para>Failing closed: when no lease can be had (KeyValidation unreachable, too slow, refusing), the requests that
/// need one get 503, and for a second afterwards they get it at once, without a call.</para>
/// </remarks>
public sealed class GlobalRateBudgets(
    KeyValidationService.KeyValidationServiceClient validation,
    TimeProvider time,
    TimeSpan leaseTimeout,
    double leaseFraction)
{
    private static readonly long FailureBackoffTicks = TimeSpan.FromSeconds(1).Ticks;

    // How much traffic one lease is sized for: long enough that the prefetch, started at its half, lands well before it
    // runs dry (a call takes milliseconds), short enough that a replica whose traffic stops holds little.
    private const double LeaseHorizonSeconds = 0.5;

    // The shortest interval a rate is measured over: a few requests a moment apart are not taken for a flood, and a
    // lease is at most five times what was spent since the one before (1 to 1,000 requests in seven leases).
    private static readonly long MinRateIntervalTicks = TimeSpan.FromMilliseconds(100).Ticks;

    private readonly ConcurrentDictionary<string, Budget> _budgets = new(StringComparer.Ordinal);

    /// <summary>Keys with a budget here now, for tests and sizing.</summary>
    public int Count => _budgets.Count;

    /// <summary>The largest lease asked for under <paramref name="rule"/>: <c>LeaseFraction</c> of the limit, at least 1.</summary>
    public long MaxLease(KeyRateLimit rule) => Math.Max(1, (long)(rule.Limit * leaseFraction));

    /// <summary>
    /// Counts one request of <paramref name="keyId"/>: completes at once while budget is left here (or the window's
    /// limit is known to be spent), otherwise when the lease in flight has answered.
    /// </summary>
    public ValueTask<RateLimitDecision> AcquireAsync(string keyId, KeyRateLimit rule, CancellationToken aborted)
    {
        var now = time.GetUtcNow().UtcTicks;
        var window = rule.WindowAt(now);
        var lease = LeaseFor(keyId, rule, window);
        if (lease.TryTake(out var left))
        {
            var passed = Passed(lease, rule, left, now);
            PrefetchIfLow(lease, rule, left);
            return new(passed);
        }

        if (lease.IsExhausted)
        {
            return new(RateLimitDecision.Limited(rule, window.SecondsToReset(now)));
        }

        return new(WaitForLeaseAsync(keyId, rule, lease, aborted));
    }

    /// <summary>Drops the budgets whose window ended before <paramref name="utcTicks"/>.</summary>
    public void Sweep(long utcTicks)
    {
        foreach (var (keyId, budget) in _budgets)
        {
            if (budget.TryRetire(utcTicks))
            {
                _budgets.TryRemove(new KeyValuePair<string, Budget>(keyId, budget));
            }
        }
    }

    private LeaseWindow LeaseFor(string keyId, KeyRateLimit rule, RateLimitWindow window)
    {
        while (true)
        {
            var budget = _budgets.GetOrAdd(keyId, static id => new Budget(id));
            if (budget.For(window, rule, time.GetUtcNow().UtcTicks) is { } lease)
            {
                return lease;
            }

            _budgets.TryRemove(new KeyValuePair<string, Budget>(keyId, budget));
        }
    }

    private async Task<RateLimitDecision> WaitForLeaseAsync(string keyId, KeyRateLimit rule, LeaseWindow lease, CancellationToken aborted)
    {
        Interlocked.Increment(ref lease.Waiting);
        try
        {
            while (true)
            {
                var now = time.GetUtcNow().UtcTicks;
                if (now >= lease.Window.EndTicks)
                {
                    // The window ended while this request waited: it belongs to the next one.
                    break;
                }

                if (lease.TryTake(out var left))
                {
                    var passed = Passed(lease, rule, left, now);
                    PrefetchIfLow(lease, rule, left);
                    return passed;
                }

                if (lease.IsExhausted)
                {
                    return RateLimitDecision.Limited(rule, lease.Window.SecondsToReset(now));
                }

                if (now < Volatile.Read(ref lease.FailedUntilTicks))
                {
                    return RateLimitDecision.Unavailable(rule, lease.Window.SecondsToReset(now));
                }

                // The lease's own deadline bounds the wait; a client that goes away stops waiting, not the lease.
                if (!await StartLease(lease, rule).WaitAsync(aborted))
                {
                    return RateLimitDecision.Unavailable(rule, lease.Window.SecondsToReset(time.GetUtcNow().UtcTicks));
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref lease.Waiting);
        }

        return await AcquireAsync(keyId, rule, aborted);
    }

    private static RateLimitDecision Passed(LeaseWindow lease, KeyRateLimit rule, long left, long now) =>
        RateLimitDecision.Pass(rule, Math.Max(0, rule.Limit - Volatile.Read(ref lease.LastUsed)) + left, lease.Window.SecondsToReset(now));

    private void PrefetchIfLow(LeaseWindow lease, KeyRateLimit rule, long left)
    {
        if (left <= Volatile.Read(ref lease.LowWater)
            && !lease.IsExhausted
            && Volatile.Read(ref lease.Pending) is null
            && time.GetUtcNow().UtcTicks >= Volatile.Read(ref lease.FailedUntilTicks))
        {
            _ = StartLease(lease, rule);
        }
    }

    /// <summary>The lease in flight for this window, or a new one: one call at a time per key and window.</summary>
    private Task<bool> StartLease(LeaseWindow lease, KeyRateLimit rule)
    {
        if (Volatile.Read(ref lease.Pending) is { } pending)
        {
            return pending;
        }

        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref lease.Pending, done.Task, null) is { } other)
        {
            return other;
        }

        _ = LeaseAsync(lease, rule, done);
        return done.Task;
    }

    private async Task LeaseAsync(LeaseWindow lease, KeyRateLimit rule, TaskCompletionSource<bool> done)
    {
        var leased = false;
        try
        {
            var requested = LeaseSize(lease, rule);
            var answer = await validation.AcquireRateBudgetAsync(
                new AcquireRateBudgetRequest
                {
                    KeyId = lease.KeyId,
                    Limit = rule.Limit,
                    WindowSeconds = rule.WindowSeconds,
                    WindowStart = lease.Window.StartSeconds,
                    Requested = requested,
                },
                deadline: time.GetUtcNow().UtcDateTime + leaseTimeout).ConfigureAwait(false);

            InterlockedMax(ref lease.LastUsed, answer.Used);
            var granted = Math.Clamp(answer.Granted, 0, requested);

            // A window's budget is spent in that window only: a grant that lands after it ended is dropped.
            if (granted > 0 && time.GetUtcNow().UtcTicks < lease.Window.EndTicks)
            {
                Volatile.Write(ref lease.LowWater, granted / 2);
                Interlocked.Add(ref lease.Available, granted);
            }

            // After the budget is added: a request that finds the window spent must not miss the last grant.
            if (granted < requested || answer.Used >= rule.Limit)
            {
                Volatile.Write(ref lease.Exhausted, 1);
            }

            leased = true;
        }
        catch (Exception)
        {
            // Unreachable, past the deadline, refusing this service's credential, or anything else: fail closed (503),
            // and give KeyValidation a second before asking again.
            Volatile.Write(ref lease.FailedUntilTicks, time.GetUtcNow().UtcTicks + FailureBackoffTicks);
        }
        finally
        {
            Volatile.Write(ref lease.Pending, null);
            done.TrySetResult(leased);
        }
    }

    // About half a second of this replica's traffic, plus the requests waiting now; from 1 to MaxLease. The rate is
    // the one since the previous lease (across a window's turn or a new limit too), not since the window started: a
    // key whose traffic starts in the last minute of an hour would otherwise be leased a request or two at a time.
    // Only the lease in flight writes the mark (one at a time per key and window).
    private long LeaseSize(LeaseWindow lease, KeyRateLimit rule)
    {
        var now = time.GetUtcNow().UtcTicks;
        var spent = Volatile.Read(ref lease.Spent);
        var rate = lease.RateSince(spent, now);
        lease.Mark(spent, now);
        var wanted = (long)Math.Ceiling(rate * LeaseHorizonSeconds) + Volatile.Read(ref lease.Waiting);
        return Math.Clamp(wanted, 1, MaxLease(rule));
    }

    private static void InterlockedMax(ref long location, long value)
    {
        var current = Volatile.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>A key's budget: its current window's lease state, replaced when the window moves on or the rule changes.</summary>
    private sealed class Budget(string keyId)
    {
        private LeaseWindow? _current;

        /// <summary>
        /// The lease state of the window under <paramref name="rule"/> (a new one when the window moved on, or its
        /// length or limit changed); null once retired.
        /// </summary>
        public LeaseWindow? For(RateLimitWindow window, KeyRateLimit rule, long utcTicks)
        {
            while (true)
            {
                var current = Volatile.Read(ref _current);
                if (ReferenceEquals(current, LeaseWindow.Retired))
                {
                    return null;
                }

                if (current is not null && current.WindowSeconds == rule.WindowSeconds)
                {
                    // A request that read the clock just before the window turned is served from the new one.
                    if (current.Window.Index > window.Index || (current.Window.Index == window.Index && current.Limit == rule.Limit))
                    {
                        return current;
                    }
                }

                // Within the window, a new limit starts afresh: what was spent here, that the window is spent, and the
                // budget left are all of the old limit (the shared counter has the window's count). The rate carries
                // on into the next window or the new limit, so that its first lease is sized to the traffic.
                var follows = current is not null && current.WindowSeconds == rule.WindowSeconds && current.Window.Index >= window.Index - 1;
                var next = new LeaseWindow(keyId, window, rule.WindowSeconds, rule.Limit);
                if (follows)
                {
                    next.CarryRateFrom(current!);
                }
                else
                {
                    next.Mark(0, utcTicks);
                }

                if (Interlocked.CompareExchange(ref _current, next, current) == current)
                {
                    return next;
                }
            }
        }

        public bool TryRetire(long utcTicks)
        {
            var current = Volatile.Read(ref _current);
            return !ReferenceEquals(current, LeaseWindow.Retired)
                && (current is null || current.Window.EndTicks <= utcTicks)
                && Interlocked.CompareExchange(ref _current, LeaseWindow.Retired, current) == current;
        }
    }

    private sealed class LeaseWindow(string keyId, RateLimitWindow window, int windowSeconds, long limit)
    {
        public static readonly LeaseWindow Retired = new("", default, 0, 0);

        public readonly string KeyId = keyId;
        public readonly RateLimitWindow Window = window;
        public readonly int WindowSeconds = windowSeconds;
        public readonly long Limit = limit;

        // Budget leased and not yet spent here; below 0 only for an instant, while a request that found none puts back
        // what it took.
        public long Available;
        public long Spent;
        public long LowWater;
        public long LastUsed;
        public int Exhausted;
        public int Waiting;
        public long FailedUntilTicks;
        public Task<bool>? Pending;

        // When the last lease was sized, and Spent then: the traffic since is the rate the next lease is sized to. Carried
        // from the state this one replaced, SpentAtMark is what was spent there since its mark, below zero.
        private long _markTicks;
        private long _spentAtMark;

        public bool IsExhausted => Volatile.Read(ref Exhausted) == 1;

        /// <summary>Requests per second spent here since the mark (over 100 ms at least).</summary>
        public double RateSince(long spent, long utcTicks)
        {
            var ticks = Math.Max(MinRateIntervalTicks, utcTicks - Volatile.Read(ref _markTicks));
            return Math.Max(0, spent - Volatile.Read(ref _spentAtMark)) * (double)TimeSpan.TicksPerSecond / ticks;
        }

        public void Mark(long spent, long utcTicks)
        {
            Volatile.Write(ref _spentAtMark, spent);
            Volatile.Write(ref _markTicks, utcTicks);
        }

        /// <summary>Continues <paramref name="previous"/>'s rate: what it spent since its mark counts as spent here.</summary>
        public void CarryRateFrom(LeaseWindow previous)
        {
            var markTicks = Volatile.Read(ref previous._markTicks);
            Mark(Volatile.Read(ref previous._spentAtMark) - Volatile.Read(ref previous.Spent), markTicks);
        }

        public bool TryTake(out long left)
        {
            left = Interlocked.Decrement(ref Available);
            if (left >= 0)
            {
                Interlocked.Increment(ref Spent);
                return true;
            }

            Interlocked.Increment(ref Available);
            return false;
        }
    }
}
