using System.Diagnostics;

namespace Keys.Benchmarks;

/// <summary>How the RPC benchmarks measure a call against its baseline: alternating, in the same conditions.</summary>
public static class Measure
{
    public const int LatencyCallsPerRound = 2_000;
    public const int Concurrency = 32;
    public static readonly TimeSpan ThroughputWindow = TimeSpan.FromSeconds(2);

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

    public static async Task<long> ThroughputAsync<T>(Func<Task<T>> call)
    {
        long calls = 0;
        var stop = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            while (stop.Elapsed < ThroughputWindow)
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
}
