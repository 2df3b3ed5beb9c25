using Aspire.Hosting.Testing;
using Keys.V1;
using Npgsql;

namespace Keys.Benchmarks;

/// <summary>
/// KeyValidation against its targets. The baseline is Ping on the same channel to the same process: an RPC that does
/// no work, so the ratio is what Validate adds to a call. (The gRPC health check is no baseline: it runs the service's
/// health checks, Redis included, on every call.)
/// </summary>
public static class ValidationBenchmark
{
    private const int Rounds = 6;
    private const int Concurrency = Measure.Concurrency;

    public static async Task<IEnumerable<Row>> RunAsync(KeysHost system)
    {
        var address = await system.DirectAddressAsync("key-validation", "grpc");
        using var channel = system.ServiceChannel(address);
        var validation = new KeyValidationService.KeyValidationServiceClient(channel);
        var (_, _, key) = await system.CreateKeyAsync("secret");
        var validRequest = new ValidateRequest { Key = key };
        var ping = new PingRequest();

        // Warm both paths (JIT, connection, and the key's record into process memory).
        for (var i = 0; i < 2_000; i++)
        {
            await validation.PingAsync(ping);
            await validation.ValidateAsync(validRequest);
        }

        // Interleaved rounds: this machine is shared and noisy, so both sides see the same conditions.
        var baseLatency = new List<double>();
        var validateLatency = new List<double>();
        double baseCalls = 0, validateCalls = 0;
        for (var round = 0; round < Rounds; round++)
        {
            await Measure.AlternatingLatencyAsync(
                () => validation.PingAsync(ping).ResponseAsync, baseLatency,
                () => validation.ValidateAsync(validRequest).ResponseAsync, validateLatency);
            baseCalls += await Measure.ThroughputAsync(() => validation.PingAsync(ping).ResponseAsync);
            validateCalls += await Measure.ThroughputAsync(() => validation.ValidateAsync(validRequest).ResponseAsync);
        }

        var (baseP50, baseP99) = Measure.Percentiles(baseLatency);
        var (validP50, validP99) = Measure.Percentiles(validateLatency);
        var baseRate = baseCalls / (Rounds * Measure.ThroughputWindow.TotalSeconds);
        var validRate = validateCalls / (Rounds * Measure.ThroughputWindow.TotalSeconds);

        var (redisCommands, redisControl, keyAdminLookups, controlLookups) = await GarbageAsync(system, validation);

        return
        [
            new("Validate, cached key: p50 latency (concurrency 1)", $"{baseP50:F0} µs (Ping)", $"{validP50:F0} µs",
                $"{validP50 / baseP50:F2}×", "≤ 1.3×", validP50 / baseP50 <= 1.3),
            new("Validate, cached key: p99 latency (concurrency 1)", $"{baseP99:F0} µs (Ping)", $"{validP99:F0} µs",
                $"{validP99 / baseP99:F2}×", "≤ 1.3×", validP99 / baseP99 <= 1.3),
            new($"Validate, cached key: throughput (concurrency {Concurrency})", $"{baseRate:F0} calls/s (Ping)", $"{validRate:F0} calls/s",
                $"{validRate / baseRate:F2}×", "≥ 0.9×", validRate / baseRate >= 0.9),
            new("Validate of 10,000 garbage keys: Redis commands on key records", $"{redisControl} for 1 unknown well-formed key (the count works)",
                redisCommands.ToString(), "-", "0", redisCommands == 0 && redisControl > 0),
            new("Validate of 10,000 garbage keys: KeyAdmin lookups", $"{controlLookups} for 1 unknown well-formed key (the count works)",
                keyAdminLookups.ToString(), "-", "0", keyAdminLookups == 0 && controlLookups > 0),
        ];
    }

    /// <summary>Counts, not assumptions: Redis's MONITOR for commands on key records, and Postgres's scans of the key table.</summary>
    private static async Task<(long RedisCommands, long RedisControl, long KeyAdminLookups, long ControlLookups)> GarbageAsync(
        KeysHost system, KeyValidationService.KeyValidationServiceClient validation)
    {
        await using var monitor = await RedisMonitor.StartAsync((await system.App.GetConnectionStringAsync("redis"))!);
        await using var postgres = new NpgsqlConnection(await system.App.GetConnectionStringAsync("keysdb"));
        await postgres.OpenAsync();

        var garbage = Enumerable.Range(0, 10_000).Select(i => $"sk_{i:D49}").ToList();
        var scansBefore = await KeyTableScansAsync(postgres);
        foreach (var batch in garbage.Chunk(Concurrency))
        {
            await Task.WhenAll(batch.Select(k => validation.ValidateAsync(new ValidateRequest { Key = k }).ResponseAsync));
        }

        var scansAfter = await KeyTableScansAsync(postgres);
        var redisCommands = monitor.Count("keys:v1:record:");

        // Control: one well-formed key that does not exist must be seen by the same count.
        await validation.ValidateAsync(new ValidateRequest { Key = Keys.ApiKeys.KeyString.Generate(Keys.ApiKeys.ApiKeyType.Secret) });
        var scansControl = await KeyTableScansAsync(postgres);

        return (redisCommands, monitor.Count("keys:v1:record:") - redisCommands, scansAfter - scansBefore, scansControl - scansAfter);
    }

    // Postgres publishes other sessions' statistics about once a second.
    private static async Task<long> KeyTableScansAsync(NpgsqlConnection postgres)
    {
        await Task.Delay(TimeSpan.FromSeconds(2));
        await using var command = new NpgsqlCommand(
            "SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'api_key'", postgres);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
