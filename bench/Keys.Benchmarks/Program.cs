using Keys.Benchmarks;

// Measures Keys against its targets as ratios taken in one run, side by side, on this machine.
// Usage: ./keys bench   (or: dotnet run -c Release --project bench/Keys.Benchmarks)
await using var system = await KeysSystem.StartAsync();
var rows = new List<Row>();
rows.AddRange(await ValidationBenchmark.RunAsync(system));
rows.AddRange(await GatewayBenchmark.RunAsync(system));

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

public sealed record Row(string Target, string Baseline, string Measured, string Ratio, string Goal, bool Met);
