using Grpc.Core;
using Grpc.Net.Client;
using Keys.Orders.V1;

namespace Keys.Benchmarks;

/// <summary>
/// An internal service's key check (Keys.AspNetCore) against the same RPC without one: ListOrders on Orders, whose key
/// is in the near cache, and on OrdersBaseline, which runs the same method with no key check and gets no key. Same
/// process, same channel, calls alternating; so the ratio is what checking a cached key adds to a call.
/// </summary>
public static class OrdersBenchmark
{
    private const int Rounds = 6;

    public static async Task<IEnumerable<Row>> RunAsync(KeysHost system)
    {
        var address = await system.DirectAddressAsync("orders", "grpc");
        using var channel = GrpcChannel.ForAddress(address);
        var checkedOrders = new Orders.V1.Orders.OrdersClient(channel);
        var baseline = new OrdersBaseline.OrdersBaselineClient(channel);
        var (_, _, key) = await system.CreateKeyAsync("secret");
        var withKey = new Metadata { { "x-api-key", key } };
        var request = new ListOrdersRequest();

        // Warm both paths (JIT, the connection, and the key into the service's near cache).
        for (var i = 0; i < 2_000; i++)
        {
            await baseline.ListOrdersAsync(request);
            await checkedOrders.ListOrdersAsync(request, withKey);
        }

        var baseLatency = new List<double>();
        var checkedLatency = new List<double>();
        double baseCalls = 0, checkedCalls = 0;
        var roundRatios = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            await Measure.AlternatingLatencyAsync(
                () => baseline.ListOrdersAsync(request).ResponseAsync, baseLatency,
                () => checkedOrders.ListOrdersAsync(request, withKey).ResponseAsync, checkedLatency);
            var (baseRound, checkedRound) = await Measure.AlternatingThroughputAsync(
                () => baseline.ListOrdersAsync(request).ResponseAsync, () => checkedOrders.ListOrdersAsync(request, withKey).ResponseAsync);
            (baseCalls, checkedCalls) = (baseCalls + baseRound, checkedCalls + checkedRound);
            roundRatios.Add((double)checkedRound / baseRound);
        }

        var (baseP50, baseP99) = Measure.Percentiles(baseLatency);
        var (checkedP50, checkedP99) = Measure.Percentiles(checkedLatency);
        var seconds = Rounds * Measure.ThroughputWindow.TotalSeconds;
        var (baseRate, checkedRate) = (baseCalls / seconds, checkedCalls / seconds);

        return
        [
            new("Orders.ListOrders, cached key: p50 latency (concurrency 1)", $"{baseP50:F0} µs (no check)", $"{checkedP50:F0} µs",
                $"{checkedP50 / baseP50:F2}×", "≤ 1.1×", checkedP50 / baseP50 <= 1.1),
            new("Orders.ListOrders, cached key: p99 latency (concurrency 1)", $"{baseP99:F0} µs (no check)", $"{checkedP99:F0} µs",
                $"{checkedP99 / baseP99:F2}×", "≤ 1.1×", checkedP99 / baseP99 <= 1.1),
            new($"Orders.ListOrders, cached key: throughput (concurrency {Measure.Concurrency})", $"{baseRate:F0} calls/s (no check)",
                $"{checkedRate:F0} calls/s (rounds {roundRatios.Min():F2}–{roundRatios.Max():F2}×)", $"{checkedRate / baseRate:F2}×", "≥ 0.95×",
                checkedRate / baseRate >= 0.95),
        ];
    }
}
