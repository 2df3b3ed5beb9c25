using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace Keys.Benchmarks;

/// <summary>
/// The gateway against its targets, with wrk (Debian's) as the load generator on the gateway's own port: the same
/// gateway process serves the open route, a valid key and garbage, in interleaved rounds.
/// </summary>
public static partial class GatewayBenchmark
{
    private const int Rounds = 4;
    private const string Duration = "3s";
    private const int Connections = 32;
    private const string Garbage = "sk_thisIsNotAKeyJustSomethingOfTheRightLength000000";

    public static async Task<IEnumerable<Row>> RunAsync(KeysHost system)
    {
        var gateway = await system.DirectAddressAsync("gateway", "http");
        Measure.Phase("creating three keys (no limit, a local and a global rate limit) and using each 100 times");
        var (_, _, key) = await system.CreateKeyAsync("secret");
        // Limits the run never reaches (a window of a minute, far above what one gateway serves in it): what is measured
        // is the cost of counting, locally or by leases drawn from KeyValidation, not of refusing.
        var (_, _, localKey) = await system.CreateKeyAsync("secret", new { limit = 1_000_000_000, windowSeconds = 60, mode = "local" });
        var (_, _, globalKey) = await system.CreateKeyAsync("secret", new { limit = 1_000_000_000, windowSeconds = 60, mode = "global" });
        using var http = new HttpClient { BaseAddress = gateway };
        for (var i = 0; i < 100; i++)
        {
            await Get(http, "/demo/public/x", key);
            await Get(http, "/demo/public/x", localKey);
            await Get(http, "/demo/public/x", globalKey);
        }

        double open = 0, keyed = 0, garbage = 0, local = 0, global = 0;
        var limitedStatuses = new Dictionary<int, long>();
        for (var round = 0; round < Rounds; round++)
        {
            Measure.Phase($"round {round + 1} of {Rounds}: open route, valid key, garbage, local and global limits, wrk {Duration} each");
            // Rotate the order so that no side always runs first.
            var runs = new (string Name, Func<Task<double>> Run)[]
            {
                ("open", async () => (await WrkAsync(gateway, "/demo/open/x", null)).Rate),
                ("keyed", async () => (await WrkAsync(gateway, "/demo/public/x", key)).Rate),
                ("garbage", async () => (await WrkAsync(gateway, "/demo/public/x", Garbage)).Rate),
                ("local", async () => await LimitedAsync(gateway, localKey, limitedStatuses)),
                ("global", async () => await LimitedAsync(gateway, globalKey, limitedStatuses)),
            };
            foreach (var (name, run) in runs.Skip(round % runs.Length).Concat(runs.Take(round % runs.Length)))
            {
                var rate = await run();
                switch (name)
                {
                    case "open": open += rate; break;
                    case "keyed": keyed += rate; break;
                    case "local": local += rate; break;
                    case "global": global += rate; break;
                    default: garbage += rate; break;
                }
            }
        }

        open /= Rounds;
        keyed /= Rounds;
        garbage /= Rounds;
        local /= Rounds;
        global /= Rounds;
        var refusedLimited = limitedStatuses.Where(s => s.Key != 200).Sum(s => s.Value);

        // Last, since it stops KeyValidation: any garbage request that reached it would be a 503 instead of a 401.
        Measure.Phase("garbage keys with KeyValidation stopped (then started again)");
        var outage = await GarbageWithValidationStoppedAsync(system, gateway);

        return
        [
            new("G1: gateway requests/s, valid key vs open route (c=32)", $"{open:F0} req/s (open route)", $"{keyed:F0} req/s",
                $"{keyed / open:F2}×", "≥ 0.95×", keyed / open >= 0.95),
            new("G1 with a local rate limit it stays under: requests/s vs open route (c=32)", $"{open:F0} req/s (open route)", $"{local:F0} req/s",
                $"{local / open:F2}×", "≥ 0.95×", local / open >= 0.95 && refusedLimited == 0),
            new("G1 with a global rate limit it stays under (leased from KeyValidation): requests/s vs open route (c=32)", $"{open:F0} req/s (open route)",
                $"{global:F0} req/s", $"{global / open:F2}×", "≥ 0.9×", global / open >= 0.9 && refusedLimited == 0),
            new("G1 rate-limited runs: answers other than 200", $"{limitedStatuses.Values.Sum()} requests", $"{refusedLimited}", "-", "0", refusedLimited == 0),
            new("G2: garbage-key rejections/s vs open route (c=32)", $"{open:F0} req/s (open route)", $"{garbage:F0} req/s",
                $"{garbage / open:F2}×", "≥ 1.5×", garbage / open >= 1.5),
            new("G2: garbage requests that called KeyValidation (it was stopped: a call is a 503)", $"{outage.Total} requests",
                $"{outage.ServiceUnavailable} × 503, {outage.Unauthorized} × 401", "-", "0", outage.ServiceUnavailable == 0 && outage.Unauthorized == outage.Total),
        ];
    }

    private static async Task<(double Rate, Dictionary<int, long> Statuses)> WrkAsync(Uri gateway, string path, string? key)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "status-counts.lua");
        var start = new ProcessStartInfo("wrk", ["-t2", $"-c{Connections}", $"-d{Duration}", "-s", script, new Uri(gateway, path).ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // status-counts.lua sends it: a process's command line is readable by every user of the machine.
        start.Environment["WRK_API_KEY"] = key ?? "";
        using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start: apt-get install -y wrk");
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();

        var rate = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var statuses = StatusLine().Matches(output).ToDictionary(
            m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        return (rate, statuses);
    }

    private static async Task<double> LimitedAsync(Uri gateway, string key, Dictionary<int, long> statuses)
    {
        var (rate, counted) = await WrkAsync(gateway, "/demo/public/x", key);
        foreach (var (status, count) in counted)
        {
            statuses[status] = statuses.GetValueOrDefault(status) + count;
        }

        return rate;
    }

    private static async Task<(long Total, long Unauthorized, long ServiceUnavailable)> GarbageWithValidationStoppedAsync(KeysHost system, Uri gateway)
    {
        var stopped = await system.App.ResourceCommands.ExecuteCommandAsync("key-validation", KnownResourceCommands.StopCommand);
        if (!stopped.Success)
        {
            throw new InvalidOperationException($"Could not stop key-validation: {stopped.Message}");
        }

        await system.App.ResourceNotifications.WaitForResourceAsync("key-validation", KnownResourceStates.TerminalStates);
        try
        {
            var (_, statuses) = await WrkAsync(gateway, "/demo/public/x", Garbage);
            return (statuses.Values.Sum(), statuses.GetValueOrDefault(401), statuses.GetValueOrDefault(503));
        }
        finally
        {
            await system.App.ResourceCommands.ExecuteCommandAsync("key-validation", KnownResourceCommands.StartCommand);
            using var http = system.App.CreateHttpClient("key-validation", "http");
            while (!await IsHealthyAsync(http))
            {
                await Task.Delay(200);
            }
        }
    }

    private static async Task<bool> IsHealthyAsync(HttpClient http)
    {
        try
        {
            return (await http.GetAsync("/health")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static async Task<HttpResponseMessage> Get(HttpClient http, string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-API-Key", key);
        return await http.SendAsync(request);
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"^status (\d+) (\d+)$", RegexOptions.Multiline)]
    private static partial Regex StatusLine();
}
