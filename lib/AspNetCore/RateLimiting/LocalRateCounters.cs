using System.Collections.Concurrent;

namespace Keys.AspNetCore.RateLimiting;

/// <summary>
/// <c>local</c> limits: one counter per key ID in this process, for the current window only. A request costs a
/// dictionary lookup and an interlocked increment; the only lock-free contention is among requests of one key. A new
/// window replaces the counter's count (one small object per key and window); <see cref="Sweep"/> drops the counters of
/// keys whose window has ended, so memory follows the keys in use now.
/// </summary>
public sealed class LocalRateCounters
{
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

    /// <summary>Keys counted now, for tests and sizing.</summary>
    public int Count => _counters.Count;

    /// <summary>
    /// Counts one request of <paramref name="keyId"/> at <paramref name="utcTicks"/>: true while it is within the
    /// window's limit. However many threads call at once, exactly <c>limit</c> of a window's requests pass.
    /// </summary>
    public bool TryAcquire(string keyId, KeyRateLimit rule, long utcTicks, out long remaining)
    {
        var window = rule.WindowAt(utcTicks);
        while (true)
        {
            var counter = _counters.GetOrAdd(keyId, static _ => new Counter());
            if (counter.For(window.Index, rule.WindowSeconds) is not { } current)
            {
                // Swept between the lookup and now: its replacement (added by whoever comes first) counts from zero,
                // and nothing was counted in the retired one.
                _counters.TryRemove(new KeyValuePair<string, Counter>(keyId, counter));
                continue;
            }

            var count = Interlocked.Increment(ref current.Count);
            remaining = Math.Max(0, rule.Limit - count);
            return count <= rule.Limit;
        }
    }

    /// <summary>Drops the counters whose window ended before <paramref name="utcTicks"/>.</summary>
    public void Sweep(long utcTicks)
    {
        foreach (var (keyId, counter) in _counters)
        {
            if (counter.TryRetire(utcTicks))
            {
                _counters.TryRemove(new KeyValuePair<string, Counter>(keyId, counter));
            }
        }
    }

    private sealed class Counter
    {
        private Window _window = Window.None;

        /// <summary>The count of the window (a new one when the window moved on); null once retired.</summary>
        public Window? For(long index, int windowSeconds)
        {
            while (true)
            {
                var window = Volatile.Read(ref _window);
                if (ReferenceEquals(window, Window.Retired))
                {
                    return null;
                }

                // A request that read the clock just before the window turned, and counts after another opened the new
                // one, is counted in the new one: a window may count one early request, never miss one.
                if (window.Seconds == windowSeconds && window.Index >= index)
                {
                    return window;
                }

                var next = new Window(index, windowSeconds);
                if (Interlocked.CompareExchange(ref _window, next, window) == window)
                {
                    return next;
                }
            }
        }

        public bool TryRetire(long utcTicks)
        {
            var window = Volatile.Read(ref _window);
            return !ReferenceEquals(window, Window.Retired)
                && window.EndTicks <= utcTicks
                && Interlocked.CompareExchange(ref _window, Window.Retired, window) == window;
        }
    }

    private sealed class Window(long index, int seconds)
    {
        public static readonly Window None = new(long.MinValue, 0);
        public static readonly Window Retired = new(long.MinValue, 0);

        public readonly long Index = index;
        public readonly int Seconds = seconds;
        public long Count;

        public long EndTicks => Seconds == 0 ? long.MinValue : DateTime.UnixEpoch.Ticks + ((Index + 1) * Seconds * TimeSpan.TicksPerSecond);
    }
}
