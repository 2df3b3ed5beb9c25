using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Keys.Benchmarks;

/// <summary>
/// G5, the real edge: gateway processes of their own (the Release binary) that reach a lean upstream directly (no DCP
/// proxy, no JSON echo) and a KeyValidation replica by its own address, against the same upstream alone, the same
/// binary with key checks off (plain YARP) and nginx with a static key map. wrk, one thread, 32 connections,
/// interleaved rounds whose order rotates; ratios are taken within each round, and the median and spread reported.
/// </summary>
public static partial class EdgeBenchmark
{
    private const int Rounds = 6;
    private const string Duration = "3s";
    private const int Connections = 32;
    private const string Garbage = "sk_thisIsNotAKeyJustSomethingOfTheRightLength000000";

    /// <summary>What the gateways under test sample (the production default, <c>TracingOptions</c>), as the table states it.</summary>
    public const string ProductionSampling = "ratio 0.01, errors kept (the production default)";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    // The demo's routes (services/Gateway/appsettings.json): /demo/open is open, the others need a key. Plain YARP must
    // have every route open (Gateway:KeyChecks=false refuses any other).
    private static readonly string[] KeyedRoutes = ["demo-public", "demo-private", "demo-orders", "data-table", "data-row"];

    private enum Run
    {
        Upstream,
        PlainYarp,
        Open,
        ValidKey,
        GarbageKey,
        NginxOpen,
        NginxKeyed,
        ValidKeyTraceAll,
        ValidKeyNoKeepErrors,
    }

    public static async Task<IEnumerable<Row>> RunAsync(KeysHost system)
    {
        var log = system.Logs.CreateLogger("edge");
        await using var children = new Children(log);
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => children.KillAll());
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => children.KillAll());
        using var work = Directory.CreateTempSubdirectory("keys-edge-").AsDeletable();

        Measure.Phase("starting the lean upstream, an OTLP sink, nginx and four gateway processes (Release)");
        var upstream = await children.StartLeanUpstreamAsync("upstream");
        var sink = await children.StartLeanUpstreamAsync("otlp-sink");
        var keyValidation = await system.DirectAddressAsync("key-validation", "grpc");
        var (_, _, key) = await system.CreateKeyAsync("secret");

        var gateway = await children.StartGatewayAsync("gateway", GatewayEnvironment(system, keyValidation, upstream, sink));
        var plain = await children.StartGatewayAsync(
            "plain-yarp",
            [.. GatewayEnvironment(system, keyValidation, upstream, sink), ("Gateway__KeyChecks", "false"), .. KeyedRoutes.Select(r => ($"ReverseProxy__Routes__{r}__Metadata__KeyTypes", "none"))]);
        var traceAll = await children.StartGatewayAsync(
            "gateway-trace-all", [.. GatewayEnvironment(system, keyValidation, upstream, sink), ("OpenTelemetry__Tracing__SampleRatio", "1")]);
        var noKeep = await children.StartGatewayAsync(
            "gateway-no-keep-errors", [.. GatewayEnvironment(system, keyValidation, upstream, sink), ("OpenTelemetry__Tracing__KeepErrors", "false")]);
        var nginx = await children.StartNginxAsync(work.Directory, upstream, key);

        var targets = new Dictionary<Run, (Uri Address, string? Key, bool Refused)>
        {
            [Run.Upstream] = (new Uri(upstream, "/demo/open/x"), null, false),
            [Run.PlainYarp] = (new Uri(plain, "/demo/open/x"), null, false),
            [Run.Open] = (new Uri(gateway, "/demo/open/x"), null, false),
            [Run.ValidKey] = (new Uri(gateway, "/demo/public/x"), key, false),
            [Run.GarbageKey] = (new Uri(gateway, "/demo/public/x"), Garbage, true),
            [Run.NginxOpen] = (new Uri(nginx, "/demo/open/x"), null, false),
            [Run.NginxKeyed] = (new Uri(nginx, "/demo/public/x"), key, false),
            [Run.ValidKeyTraceAll] = (new Uri(traceAll, "/demo/public/x"), key, false),
            [Run.ValidKeyNoKeepErrors] = (new Uri(noKeep, "/demo/public/x"), key, false),
        };

        Measure.Phase("checking each target's answer, then warming it up (JIT, connections, the near cache) with wrk for 2 s");
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            foreach (var (run, target) in targets)
            {
                for (var i = 0; i < 50; i++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, target.Address);
                    if (target.Key is not null)
                    {
                        request.Headers.Add("X-API-Key", target.Key);
                    }

                    using var response = await http.SendAsync(request);
                    var expected = target.Refused ? HttpStatusCode.Unauthorized : HttpStatusCode.OK;
                    if (response.StatusCode != expected)
                    {
                        throw new InvalidOperationException($"{run}: {(int)response.StatusCode} from {target.Address.AbsolutePath}, not {(int)expected}.");
                    }
                }
            }
        }

        foreach (var target in targets.Values)
        {
            await WrkAsync(target.Address, target.Key, "2s", log);
        }

        var results = Enum.GetValues<Run>().ToDictionary(r => r, _ => new List<WrkResult>());
        var runs = Enum.GetValues<Run>();
        for (var round = 0; round < Rounds; round++)
        {
            Measure.Phase($"round {round + 1} of {Rounds}: {runs.Length} wrk runs of {Duration}, the order rotated by {round}");
            foreach (var run in runs.Skip(round % runs.Length).Concat(runs.Take(round % runs.Length)))
            {
                var target = targets[run];
                var result = await WrkAsync(target.Address, target.Key, Duration, log);
                log.LogInformation("round {Round} {Run}: {Rate:F0} req/s, p99 {P99:F2} ms, {Non2xx} of {Requests} not 2xx", round, run, result.Rate, result.P99Milliseconds, result.Non2xx, result.Requests);
                results[run].Add(result);
            }
        }

        var wrong = runs.Where(r => results[r].Any(x => x.Failed(targets[r].Refused))).ToList();
        return [.. Table(results, wrong)];
    }

    private static IEnumerable<Row> Table(Dictionary<Run, List<WrkResult>> results, List<Run> wrong)
    {
        string Absolute(Run run) =>
            $"{Median(results[run].Select(r => r.Rate)):F0} req/s, p99 {Median(results[run].Select(r => r.P99Milliseconds)):F2} ms";

        foreach (var (run, what) in new[]
        {
            (Run.Upstream, "Kestrel upstream alone"),
            (Run.PlainYarp, "plain YARP (the gateway binary, key checks off)"),
            (Run.Open, "gateway, open route"),
            (Run.ValidKey, "gateway, valid key (near-cache hit)"),
            (Run.GarbageKey, "gateway, garbage key (401)"),
            (Run.NginxOpen, "nginx 1.22, open"),
            (Run.NginxKeyed, "nginx 1.22, static key map"),
        })
        {
            yield return new($"G5 absolute: {what}", "-", Absolute(run), "-", "-", !wrong.Contains(run));
        }

        Row Ratio(string target, Run measured, Run baseline, string baselineName, double? goal)
        {
            var ratios = results[measured].Zip(results[baseline], (m, b) => m.Rate / b.Rate).ToList();
            var median = Median(ratios);
            return new(
                target,
                $"{Median(results[baseline].Select(r => r.Rate)):F0} req/s ({baselineName})",
                $"{Median(results[measured].Select(r => r.Rate)):F0} req/s",
                $"{median:F2}× ({ratios.Min():F2}–{ratios.Max():F2})",
                goal is { } g ? $"≥ {g:F2}×" : "-",
                (goal is null || median >= goal) && !wrong.Contains(measured) && !wrong.Contains(baseline));
        }

        yield return Ratio("G5: gateway open route vs plain YARP", Run.Open, Run.PlainYarp, "plain YARP", 0.8);
        yield return Ratio("G5/G1: valid key vs open route, on the real edge", Run.ValidKey, Run.Open, "open route", 0.95);
        yield return Ratio("G5: gateway valid key vs nginx static key map", Run.ValidKey, Run.NginxKeyed, "nginx keyed", 0.5);
        yield return Ratio($"Tracing: valid key, every span exported (ratio 1.0) vs {ProductionSampling}", Run.ValidKeyTraceAll, Run.ValidKey, "production sampling", null);
        yield return Ratio("Tracing: valid key, ratio 0.01 with unsampled spans dropped (KeepErrors=false) vs recorded (the default)", Run.ValidKeyNoKeepErrors, Run.ValidKey, "production sampling", null);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static List<(string, string)> GatewayEnvironment(KeysHost system, Uri keyValidation, Uri upstream, Uri sink) =>
    [
        // Not Production, which refuses Gateway:KeyChecks=false; the same for every gateway here, so that they differ in
        // nothing else. Development would check every dependency-injection resolution.
        ("ASPNETCORE_ENVIRONMENT", "Benchmark"),
        ("DOTNET_ENVIRONMENT", "Benchmark"),
        ("ReverseProxy__Clusters__demo__Destinations__demo-api__Address", upstream.ToString()),
        ("ApiKeys__KeyValidationAddress", keyValidation.ToString()),
        // The bench's own credential, which KeyValidation knows as "bench" (KeysHostOptions.CallerName).
        ("ServiceAuth__Token", system.CallerToken),
        // One load generator is one client address: the invalid-key throttle would turn garbage into 429s.
        ("ApiKeys__InvalidKeyLimit", int.MaxValue.ToString(CultureInfo.InvariantCulture)),
        // Traces, metrics and logs go to a sink that answers at once: what exporting costs the gateway, not a collector.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.ToString().TrimEnd('/')),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ];

    private static async Task<WrkResult> WrkAsync(Uri address, string? key, string duration, ILogger log)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "api-key-header.lua");
        var start = new ProcessStartInfo("wrk", ["-t1", $"-c{Connections}", $"-d{duration}", "--latency", "-s", script, address.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // api-key-header.lua sends it: a process's command line is readable by every user of the machine.
        start.Environment["WRK_API_KEY"] = key ?? "";
        using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start: apt-get install -y wrk");
        var output = await wrk.StandardOutput.ReadToEndAsync();
        await wrk.WaitForExitAsync();

        // A run that got no answer prints no rate or latency: it counts as failed, with wrk's own words in the log.
        if (TotalRequests().Match(output) is not { Success: true } total || P99().Match(output) is not { Success: true } p99)
        {
            log.LogWarning("wrk on {Path}: {Output}", address.AbsolutePath, output);
            return new(0, double.NaN, 0, 0);
        }

        var requests = long.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture);
        var non2xx = NonSuccess().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var p99Value = double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture) * p99.Groups[2].Value switch
        {
            "us" => 0.001,
            "ms" => 1,
            "s" => 1000,
            _ => 60_000,
        };
        return new(double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture), p99Value, requests, non2xx);
    }

    private sealed record WrkResult(double Rate, double P99Milliseconds, long Requests, long Non2xx)
    {
        // A run counts only if every answer was what the target gives: 2xx, or for garbage only refusals.
        public bool Failed(bool refused) => Requests == 0 || (refused ? Non2xx != Requests : Non2xx != 0);
    }

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex TotalRequests();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex NonSuccess();

    [GeneratedRegex(@"^\s+99%\s+([0-9.]+)(us|ms|s|m)\s*$", RegexOptions.Multiline)]
    private static partial Regex P99();

    /// <summary>
    /// Every process the edge benchmark starts, stopped when it ends however it ends (an exception, Ctrl+C, SIGTERM);
    /// their output goes to the run's log file.
    /// </summary>
    private sealed class Children(ILogger log) : IAsyncDisposable
    {
        private readonly List<Process> _processes = [];
        private readonly Lock _gate = new();

        private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

        public Task<Uri> StartLeanUpstreamAsync(string name) =>
            StartDotnetAsync(name, Path.Combine(Repository.Root, "samples", "LeanUpstream", "bin", Configuration, "net10.0", "Keys.LeanUpstream.dll"), "/", []);

        public Task<Uri> StartGatewayAsync(string name, IReadOnlyList<(string, string)> environment) =>
            StartDotnetAsync(name, Path.Combine(Repository.Root, "services", "Gateway", "bin", Configuration, "net10.0", "Keys.Gateway.dll"), "/health", environment);

        public async Task<Uri> StartNginxAsync(DirectoryInfo work, Uri upstream, string key)
        {
            var port = FreePort();
            // The key is in this file, in a folder only this user may open (0700), removed with it at the end.
            var config = Path.Combine(work.FullName, "nginx.conf");
            await File.WriteAllTextAsync(config, $$"""
                daemon off;
                worker_processes auto;
                pid {{work.FullName}}/nginx.pid;
                error_log stderr warn;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    client_body_temp_path {{work.FullName}}/body;
                    proxy_temp_path {{work.FullName}}/proxy;
                    fastcgi_temp_path {{work.FullName}}/fastcgi;
                    uwsgi_temp_path {{work.FullName}}/uwsgi;
                    scgi_temp_path {{work.FullName}}/scgi;
                    # A key is longer than the default bucket (64 bytes) holds.
                    map_hash_bucket_size 128;
                    upstream lean { server {{upstream.Authority}}; keepalive 64; }
                    map $http_x_api_key $key_ok { default 0; "{{key}}" 1; }
                    server {
                        listen 127.0.0.1:{{port}};
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        location /demo/open/ { proxy_pass http://lean; }
                        location /demo/public/ {
                            if ($key_ok = 0) { return 401; }
                            proxy_set_header X-API-Key "";
                            proxy_set_header Connection "";
                            proxy_pass http://lean;
                        }
                    }
                }
                """);
            var address = new Uri($"http://127.0.0.1:{port}/");
            // Debian puts it in /usr/sbin, which a user's PATH may not hold.
            await StartAsync("nginx", new ProcessStartInfo(File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx", ["-p", work.FullName, "-c", config, "-e", "stderr"]), new Uri(address, "/demo/open/"));
            return address;
        }

        public void KillAll()
        {
            lock (_gate)
            {
                foreach (var process in _processes)
                {
                    try
                    {
                        process.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                        // Already gone.
                    }
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            KillAll();
            foreach (var process in _processes)
            {
                await process.WaitForExitAsync();
                process.Dispose();
            }
        }

        private async Task<Uri> StartDotnetAsync(string name, string dll, string ready, IReadOnlyList<(string Name, string Value)> environment)
        {
            if (!File.Exists(dll))
            {
                throw new InvalidOperationException($"{dll} is missing: build the benchmark with -c {Configuration} (./keys bench does).");
            }

            var address = new Uri($"http://127.0.0.1:{FreePort()}/");
            var start = new ProcessStartInfo("dotnet", ["exec", dll, "--urls", address.ToString()]) { WorkingDirectory = Path.GetDirectoryName(dll)! };
            // The gateway's appsettings name its port; --urls does not replace a configured endpoint.
            start.Environment["Kestrel__Endpoints__http__Url"] = address.ToString();
            foreach (var (variable, value) in environment)
            {
                start.Environment[variable] = value;
            }

            await StartAsync(name, start, new Uri(address, ready));
            return address;
        }

        private async Task StartAsync(string name, ProcessStartInfo start, Uri ready)
        {
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, line) => Write(name, line.Data);
            process.ErrorDataReceived += (_, line) => Write(name, line.Data);
            lock (_gate)
            {
                process.Start();
                _processes.Add(process);
            }

            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            log.LogInformation("{Name}: pid {Pid}, {Program} {Arguments}", name, process.Id, start.FileName, string.Join(' ', start.ArgumentList));

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{name} exited with {process.ExitCode} before it answered; its output is in the log file.");
                }

                try
                {
                    if ((await http.GetAsync(ready)).IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    // Not listening yet.
                }

                if (deadline.Elapsed > StartTimeout)
                {
                    throw new InvalidOperationException($"{name} did not answer {ready} within {StartTimeout.TotalSeconds} s; its output is in the log file.");
                }

                await Task.Delay(200);
            }
        }

        private void Write(string name, string? line)
        {
            if (line is not null)
            {
                log.LogInformation("{Name}: {Line}", name, line);
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}

/// <summary>A temporary folder removed, with what it holds, when disposed.</summary>
internal sealed class DeletableDirectory(DirectoryInfo directory) : IDisposable
{
    public DirectoryInfo Directory { get; } = directory;

    public void Dispose() => Directory.Delete(recursive: true);
}

internal static class DeletableDirectoryExtensions
{
    public static DeletableDirectory AsDeletable(this DirectoryInfo directory) => new(directory);
}
