using System.Diagnostics;

namespace Keys.Benchmarks;

/// <summary>How the RPC benchmarks measure a call against its baseline: alternating, in the same conditions.</summary>
public static class Measure
{
    public const int LatencyCallsPerRound = 2_000;
    public const int Concurrency = 32;
    public static readonly TimeSpan ThroughputWindow = TimeSpan.FromSeconds(2);

    /// <summary>One progress line on the terminal for a phase of a part: what it does now (the details go to the log file).</summary>
    public static void Phase(string what) => Console.WriteLine($"  {what}…");

    // Call by call, alternating, so that neither side is the one that meets a GC pause or a noisy neighbour more often.
    public static async Task AlternatingLatencyAsync<TA, TB>(Func<Task<TA>> a, List<double> aSamples, Func<Task<TB>> b, List<double> bSamples)
    {
        for (var i = 0; i < LatencyCallsPerRound; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await a();
            aSamples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);

            start = Stopwatch.GetTimestamp();
            await b();
            bSamples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
    }

    public static Task<long> ThroughputAsync<T>(Func<Task<T>> call) => ThroughputAsync(call, ThroughputWindow);

    public static async Task<long> ThroughputAsync<T>(Func<Task<T>> call, TimeSpan window)
    {
        long calls = 0;
        var stop = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            while (stop.Elapsed < window)
            {
                await call();
                Interlocked.Increment(ref calls);
            }
        }));
        return calls;
    }

    public static (double P50, double P99) Percentiles(List<double> samples)
    {
        samples.Sort();
        return (samples[samples.Count / 2], samples[(int)(samples.Count * 0.99)]);
    }

    /// <summary>
    /// Calls of <paramref name="a"/> and <paramref name="b"/> completed in the same time, measured A B B A in windows of
    /// half <see cref="ThroughputWindow"/>: a machine that speeds up or slows down during the round favours neither.
    /// </summary>
    public static async Task<(long A, long B)> AlternatingThroughputAsync<TA, TB>(Func<Task<TA>> a, Func<Task<TB>> b)
    {
        var half = ThroughputWindow / 2;
        var callsA = await ThroughputAsync(a, half);
        var callsB = await ThroughputAsync(b, half);
        callsB += await ThroughputAsync(b, half);
        callsA += await ThroughputAsync(a, half);
        return (callsA, callsB);
    }
}
