using System.Net;
using System.Text.RegularExpressions;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// What an operator watches, as the running system exports it: every metric <c>docs/operations.md</c> lists arrives over
/// OTLP from the service it names, with the type, unit and tags written there, and nothing else <c>keys.*</c> does; the
/// values follow what the system did; no key or id ever reaches a tag; and the gateway's health turns Degraded, with
/// the reason in its logs, while its Watch stream is down.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed partial class TelemetryTests(TelemetryAppFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan ExportTimeout = TimeSpan.FromSeconds(30);

    // The service each meter is read from. Keys.AspNetCore is the library's: orders exports it too (checked apart).
    private static readonly Dictionary<string, string> ServiceOfMeter = new()
    {
        ["Keys.Gateway"] = "gateway",
        ["Keys.AspNetCore"] = "gateway",
        ["Keys.Validation"] = "key-validation",
    };

    private static readonly SemaphoreSlim TrafficGate = new(1, 1);
    private static Traffic? s_traffic;

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly HttpClient _gateway = fixture.CreateGatewayClient();
    private Traffic _traffic = null!;

    private OtlpMetricsReceiver Metrics => fixture.Metrics;

    public async Task InitializeAsync() => _traffic = await TrafficAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task EveryMetricTheOperationsPageListsIsExportedByItsServiceWithTheTypeUnitAndTagsItSays()
    {
        var documented = DocumentedMetrics();
        Assert.NotEmpty(documented);

        var exported = await UntilExportedAsync(documented);

        Assert.All(documented, metric =>
        {
            var found = exported.GetValueOrDefault(metric.Name);
            Assert.True(found is not null, $"{metric.Meter} {metric.Name} was not exported by {ServiceOfMeter[metric.Meter]}.");
            Assert.Equal((metric.Name, metric.Meter, metric.Kind, metric.Unit), (found.Name, found.Meter, found.Kind, found.Unit));
            Assert.Equal(metric.Tags.Order(), found.Points.SelectMany(p => p.Attributes.Keys).Distinct().Order());
        });

        // The library's meter goes wherever the library is used, not only in the gateway.
        Assert.NotNull(Metrics.Find("orders", "Keys.AspNetCore", "keys.api_key.watch.state"));
    }

    [Fact]
    public async Task NoServiceExportsAKeysMetricThatTheOperationsPageDoesNotList()
    {
        var documented = DocumentedMetrics().Select(m => (m.Meter, m.Name)).ToHashSet();
        await UntilExportedAsync(DocumentedMetrics());

        var undocumented = Metrics.Latest
            .Where(m => m.Meter.StartsWith("Keys.", StringComparison.Ordinal) || m.Name.StartsWith("keys.", StringComparison.Ordinal))
            .Select(m => $"{m.Service}: {m.Meter} {m.Name}")
            .Where(m => !documented.Any(d => m.EndsWith($": {d.Meter} {d.Name}", StringComparison.Ordinal)))
            .Distinct()
            .ToList();

        Assert.True(undocumented.Count == 0, "Exported, and not in docs/operations.md: " + string.Join(", ", undocumented));
    }

    [Fact]
    public async Task ExportedValuesFollowWhatTheSystemDid()
    {
        (string What, Func<bool> Holds)[] expectations =
        [
            .. new[] { "ok", "open", "UNAUTHORIZED", "INVALID_TOKEN", "TOKEN_REVOKED" }.Select(outcome => (
                $"keys.gateway.requests{{outcome={outcome}}} >= 1",
                (Func<bool>)(() => Metrics.Find("gateway", "Keys.Gateway", "keys.gateway.requests")?.ValueWhere("outcome", outcome) >= 1))),
            ("gateway keys.api_key.watch.state = 2", () => Single("gateway", "Keys.AspNetCore", "keys.api_key.watch.state") == 2),
            ("gateway keys.api_key.near_cache.lookups{result=hit} >= 1",
                () => Metrics.Find("gateway", "Keys.AspNetCore", "keys.api_key.near_cache.lookups")?.ValueWhere("result", "hit") >= 1),
            ("gateway keys.api_key.invalidation.lag counted the delete",
                () => Metrics.Find("gateway", "Keys.AspNetCore", "keys.api_key.invalidation.lag")?.Points.Sum(p => p.Value) >= 1),
            ("keys.validation.invalidation.state = 2", () => Single("key-validation", "Keys.Validation", "keys.validation.invalidation.state") == 2),
            ("keys.validation.invalidation.subscribed = 1", () => Single("key-validation", "Keys.Validation", "keys.validation.invalidation.subscribed") == 1),
            // By pub/sub as a rule, but the catch-up may apply it first (it runs whenever a pass finds work), and then
            // pub/sub's copy is a duplicate that is not counted.
            ("keys.validation.invalidation.lag{source=pubsub or changes} counted the delete",
                () => Metrics.Find("key-validation", "Keys.Validation", "keys.validation.invalidation.lag") is { } lag
                    && (lag.ValueWhere("source", "pubsub") ?? 0) + (lag.ValueWhere("source", "changes") ?? 0) >= 1),
            ("keys.validation.watch.streams >= 2 (the gateway and orders)",
                () => Single("key-validation", "Keys.Validation", "keys.validation.watch.streams") >= 2),
        ];

        try
        {
            await UntilAsync(() => expectations.All(e => e.Holds()));
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("Not exported as expected: " + string.Join("; ", expectations.Where(e => !e.Holds()).Select(e => e.What)));
        }
    }

    [Fact]
    public async Task NoExportedMetricTagHoldsAKeyAHashOrAnId()
    {
        await UntilExportedAsync(DocumentedMetrics());
        var secrets = new[] { _traffic.Deleted.Value, _traffic.Deleted.Key.Id, _traffic.Live.Value, _traffic.Live.Key.Id, _traffic.ProjectId };

        var values = Metrics.Latest.SelectMany(m => m.Points).SelectMany(p => p.Attributes.Values).Distinct().ToList();

        Assert.NotEmpty(values);
        Assert.DoesNotContain(values, v => secrets.Any(s => v.Contains(s, StringComparison.Ordinal)) || KeyLike().IsMatch(v));
    }

    [Fact]
    public async Task GatewayHealthIsDegradedNamingTheWatchStreamWhileKeyValidationIsFrozenAndHealthyOnceItIsBack()
    {
        using var gatewayHealth = new HttpClient
        {
            BaseAddress = await fixture.Host.DirectAddressAsync("gateway", "http"),
            Timeout = TimeSpan.FromSeconds(5),
        };
        await UntilAsync(async () => await HealthAsync(gatewayHealth) == "Healthy");

        await fixture.Host.FreezeAsync("key-validation", async () =>
        {
            // Silent for WatchSilenceTimeout (3 s), the stream is dropped: the gateway still answers /health with 200.
            await UntilAsync(async () => await HealthAsync(gatewayHealth) == "Degraded");
            await UntilAsync(() => Single("gateway", "Keys.AspNetCore", "keys.api_key.watch.state") < 2);
        });

        var logs = (await fixture.ReadLogsByResourceAsync())["gateway"];
        Assert.Contains("The Watch stream from KeyValidation was lost (silent for 3 s)", logs, StringComparison.Ordinal);
        Assert.Matches(@"Health check invalidation-stream with status Degraded completed after [\d.]+ms with message 'The Watch stream from KeyValidation is", logs);

        await UntilAsync(async () => await HealthAsync(gatewayHealth) == "Healthy");
        await UntilAsync(() => Single("gateway", "Keys.AspNetCore", "keys.api_key.watch.state") == 2);
    }

    /// <summary>
    /// Once for the collection: a key used (a miss, then hits), an open route, refusals, and a delete, so that every
    /// counter, gauge and histogram has something to report; then a key kept alive, for the traffic each wait sends.
    /// </summary>
    private async Task<Traffic> TrafficAsync()
    {
        await TrafficGate.WaitAsync();
        try
        {
            if (s_traffic is not null)
            {
                return s_traffic;
            }

            var project = await _admin.CreateProjectAsync("Telemetry tests");
            var deleted = await _admin.CreateKeyAsync(project.Id, "dev", "deleted-key", "secret");
            var live = await _admin.CreateKeyAsync(project.Id, "dev", "live-key", "secret");
            // The first lookup may meet a system still warming up (a 503 is the gateway failing closed): it is retried.
            await UntilAsync(async () => (await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", deleted.Value))).StatusCode == HttpStatusCode.OK);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", deleted.Value))).StatusCode);
            }

            Assert.Equal(HttpStatusCode.OK, (await _gateway.GetAsync("/demo/open/x")).StatusCode);
            Assert.Equal("UNAUTHORIZED", (await (await _gateway.GetAsync("/demo/public/x")).ReadErrorAsync()).Error);
            Assert.Equal("INVALID_TOKEN", (await (await _gateway.SendAsync(GatewayResponses.Get("/demo/public/x", "sk_not-a-key"))).ReadErrorAsync()).Error);

            (await _admin.DeleteKeyAsync(project.Id, "dev", deleted.Key.Id, deleted.Key.Name)).EnsureSuccessStatusCode();
            var refused = await _gateway.FirstRejectionAsync("/demo/private/x", deleted.Value, TimeSpan.FromSeconds(5));
            Assert.Equal("TOKEN_REVOKED", (await refused.ReadErrorAsync()).Error);

            return s_traffic = new Traffic(project.Id, deleted, live);
        }
        finally
        {
            TrafficGate.Release();
        }
    }

    /// <summary>
    /// Waits until every documented metric has been exported by its meter's service, sending a request with a live key
    /// each time (the hit ratio reports only intervals with lookups), and returns those exports by name.
    /// </summary>
    private async Task<Dictionary<string, ExportedMetric>> UntilExportedAsync(IReadOnlyList<DocumentedMetric> documented)
    {
        Dictionary<string, ExportedMetric> Exported() => documented
            .Select(m => Metrics.Find(ServiceOfMeter[m.Meter], m.Meter, m.Name))
            .OfType<ExportedMetric>()
            .ToDictionary(m => m.Name);

        try
        {
            await UntilAsync(async () =>
            {
                await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", _traffic.Live.Value));
                return Exported().Count == documented.Count;
            });
        }
        catch (OperationCanceledException)
        {
            // The assertions that follow say which are missing.
        }

        return Exported();
    }

    private double? Single(string service, string meter, string name) => Metrics.Find(service, meter, name)?.Points.Single().Value;

    private static async Task<string> HealthAsync(HttpClient client)
    {
        try
        {
            using var response = await client.GetAsync("/health");
            var body = await response.Content.ReadAsStringAsync();
            // Degraded is not a failure: /health says it with a 200.
            return body is "Healthy" or "Degraded" && response.StatusCode != HttpStatusCode.OK ? $"{body} with {(int)response.StatusCode}" : body;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return ex.GetType().Name;
        }
    }

    private static Task UntilAsync(Func<bool> condition) => UntilAsync(() => Task.FromResult(condition()));

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        using var timeout = new CancellationTokenSource(ExportTimeout);
        await KeysHost.UntilAsync(_ => condition(), timeout.Token);
    }

    /// <summary>The metrics tables of <c>docs/operations.md</c>: each row under a <c>### Meter `Name`</c> heading.</summary>
    private static List<DocumentedMetric> DocumentedMetrics()
    {
        var metrics = new List<DocumentedMetric>();
        string? meter = null;
        foreach (var line in File.ReadLines(Path.Combine(Repository.Root, "docs", "operations.md")))
        {
            if (MeterHeading().Match(line) is { Success: true } heading)
            {
                meter = heading.Groups[1].Value;
            }
            else if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                meter = null;
            }
            else if (meter is not null && line.StartsWith("| `keys.", StringComparison.Ordinal))
            {
                var cells = line.Split('|').Select(c => c.Trim()).ToArray();
                metrics.Add(new DocumentedMetric(
                    meter,
                    cells[1].Trim('`'),
                    cells[2],
                    cells[3] == "(none)" ? "" : cells[3].Trim('`'),
                    [.. TagKey().Matches(cells[4]).Select(m => m.Groups[1].Value)]));
            }
        }

        return metrics;
    }

    [GeneratedRegex("^### Meter `([A-Za-z.]+)`")]
    private static partial Regex MeterHeading();

    // A tag is written as `name`: followed by its values.
    [GeneratedRegex("`([a-z_.]+)`:")]
    private static partial Regex TagKey();

    // A key's shape (prefix and a long token), or a hex run as long as a SHA-256.
    [GeneratedRegex("(pk|sk)_[A-Za-z0-9]{16,}|[0-9a-fA-F]{64}")]
    private static partial Regex KeyLike();

    private sealed record DocumentedMetric(string Meter, string Name, string Kind, string Unit, IReadOnlyList<string> Tags);

    private sealed record Traffic(string ProjectId, CreatedKeyDto Deleted, CreatedKeyDto Live);
}
