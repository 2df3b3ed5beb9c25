using Keys.Benchmarks;

// Measures Keys against its targets as ratios taken in one run, side by side, on this machine.
// Usage: ./keys bench   (or: dotnet run -c Release --project bench/Keys.Benchmarks)
// KEYS_BENCH_ONLY=revocation (any of validation, orders, gateway, listing, revocation, edge, scale, comma-separated) runs only those parts: the
// whole run takes minutes of a shared machine, and work on one part rarely needs the others.
string[] parts = ["validation", "orders", "gateway", "listing", "revocation", "edge", "scale"];
var only = Environment.GetEnvironmentVariable("KEYS_BENCH_ONLY")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
if (only?.Except(parts, StringComparer.OrdinalIgnoreCase).ToList() is [_, ..] unknown)
{
    Console.Error.WriteLine($"KEYS_BENCH_ONLY: unknown {string.Join(", ", unknown)}; the parts are {string.Join(", ", parts)}");
    return 2;
}

bool Runs(string part) => only is null || only.Contains(part, StringComparer.OrdinalIgnoreCase);

// Progress on the terminal, a line per phase, and the table at the end; what the resources and the processes the parts
// start write goes to one file, named before anything starts.
var clock = System.Diagnostics.Stopwatch.StartNew();
using var logs = new ResourceLogs("bench", KeysHost.ApplicationName);
Console.WriteLine($"Resource logs and child processes' output: {logs.RelativePath}");
Console.WriteLine("Starting the system (Postgres, Redis, KeyAdmin, KeyValidation, the gateway, the demo upstream, Orders)…");
await using var system = await KeysSystem.StartAsync(logs);
Console.WriteLine($"  started in {clock.Elapsed.TotalSeconds:F0} s");
var rows = new List<Row>();
await RunAsync("validation", "Validate against Ping, garbage keys", () => ValidationBenchmark.RunAsync(system));
await RunAsync("orders", "an internal service's key check against none", () => OrdersBenchmark.RunAsync(system));

// The gateway part ends by stopping and restarting KeyValidation, and revocation waits until keys work again before it
// measures; revocation's Redis freeze comes last of all, since it may leave KeyAdmin stopped.
await RunAsync("gateway", "G1, G2", () => GatewayBenchmark.RunAsync(system));
// Listing seeds 100,000 keys, after the parts that count KeyAdmin's table scans.
await RunAsync("listing", "ListKeys pages in a 100,000-key environment", () => ListingBenchmark.RunAsync(system));
// Before revocation, which may leave KeyAdmin stopped: it starts processes of its own (a lean upstream, gateways, nginx)
// beside the system, and stops them all.
await RunAsync("edge", "G5: the gateway against a lean upstream, plain YARP and nginx, and what tracing costs", () => EdgeBenchmark.RunAsync(system));
await RunAsync("revocation", "G4, and G4 during a Redis stall", () => RevocationBenchmark.RunAsync(system));
await RunAsync("scale", "G6: a million keys, 2 KeyValidation replicas", () => ScaleBenchmark.RunAsync(system));

Console.WriteLine();
Console.WriteLine($"Keys benchmarks, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| Target | Baseline | Measured | Ratio | Goal | Met |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var row in rows)
{
    Console.WriteLine($"| {row.Target} | {row.Baseline} | {row.Measured} | {row.Ratio} | {row.Goal} | {(row.Met ? "yes" : "NO")} |");
}

return rows.All(r => r.Met) ? 0 : 1;

async Task RunAsync(string part, string measures, Func<Task<IEnumerable<Row>>> run)
{
    if (!Runs(part))
    {
        return;
    }

    var started = clock.Elapsed;
    Console.WriteLine($"Running {part} ({measures})…");
    try
    {
        rows.AddRange(await run());
        Console.WriteLine($"  done in {(clock.Elapsed - started).TotalSeconds:F0} s");
    }
    catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or TimeoutException)
    {
        // One row that says why, and the other parts still run; the whole exception is in the log file.
        Microsoft.Extensions.Logging.LoggerExtensions.LogError(logs.CreateLogger(part), ex, "{Part} failed", part);
        Console.WriteLine($"  FAILED after {(clock.Elapsed - started).TotalSeconds:F0} s: {ex.Message}");
        rows.Add(new($"{part}: the part failed", "-", ex.Message, "-", "runs", false));
    }
}

public sealed record Row(string Target, string Baseline, string Measured, string Ratio, string Goal, bool Met);
