using Keys.Benchmarks;

// Measures Keys against its targets as ratios taken in one run, side by side, on this machine.
// Usage: ./keys bench   (or: dotnet run -c Release --project bench/Keys.Benchmarks)
// KEYS_BENCH_ONLY=revocation (any of validation, orders, gateway, listing, revocation, comma-separated) runs only those parts: the
// whole run takes minutes of a shared machine, and work on one part rarely needs the others.
string[] parts = ["validation", "orders", "gateway", "listing", "revocation", "scale"];
var only = Environment.GetEnvironmentVariable("KEYS_BENCH_ONLY")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
if (only?.Except(parts, StringComparer.OrdinalIgnoreCase).ToList() is [_, ..] unknown)
{
    Console.Error.WriteLine($"KEYS_BENCH_ONLY: unknown {string.Join(", ", unknown)}; the parts are {string.Join(", ", parts)}");
    return 2;
}

bool Runs(string part) => only is null || only.Contains(part, StringComparer.OrdinalIgnoreCase);

// Progress on the terminal; what the resources write goes to a file, named once the system runs.
var clock = System.Diagnostics.Stopwatch.StartNew();
Console.WriteLine("Starting the system…");
await using var system = await KeysSystem.StartAsync();
Console.WriteLine($"Started in {clock.Elapsed.TotalSeconds:F0} s; resource logs in {system.Logs.RelativePath}");
var rows = new List<Row>();
await RunAsync("validation", "Validate against Ping, garbage keys", () => ValidationBenchmark.RunAsync(system));
await RunAsync("orders", "an internal service's key check against none", () => OrdersBenchmark.RunAsync(system));

// The gateway part ends by stopping and restarting KeyValidation, and revocation waits until keys work again before it
// measures; revocation's Redis freeze comes last of all, since it may leave KeyAdmin stopped.
await RunAsync("gateway", "G1, G2", () => GatewayBenchmark.RunAsync(system));
// Listing seeds 100,000 keys, after the parts that count KeyAdmin's table scans.
await RunAsync("listing", "ListKeys pages in a 100,000-key environment", () => ListingBenchmark.RunAsync(system));
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
    rows.AddRange(await run());
    Console.WriteLine($"  done in {(clock.Elapsed - started).TotalSeconds:F0} s");
}

public sealed record Row(string Target, string Baseline, string Measured, string Ratio, string Goal, bool Met);
