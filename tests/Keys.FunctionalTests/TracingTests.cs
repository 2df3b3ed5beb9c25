using System.Diagnostics;
using System.Net;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

/// <summary>
/// Sampling as production runs it, over OTLP from the real gateway: with no trace sampled (OpenTelemetry:Tracing
/// SampleRatio 0) and KeepErrors on, a refused request's span still reaches the exporter and a passed one's does not.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class TracingTests(TelemetryAppFixture fixture)
{
    private static readonly TimeSpan ExportTimeout = TimeSpan.FromSeconds(30);

    // The gateway's batch exporter sends every 500 ms here (TelemetryAppFixture): two of its intervals and some.
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task AtRatioZeroWithKeepErrorsARefusedRequestsSpanIsExportedAndAPassedOnesIsNot()
    {
        // No traceparent of the test's own: a caller's sampled flag would decide for the gateway (parent-based).
        using var gateway = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator() })
        {
            BaseAddress = await fixture.Host.DirectAddressAsync("gateway", "http"),
        };
        var passed = $"/demo/open/traced-{Guid.NewGuid():N}";
        var refused = $"/demo/public/traced-{Guid.NewGuid():N}";

        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync(passed)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.GetAsync(refused)).StatusCode);

        using var timeout = new CancellationTokenSource(ExportTimeout);
        try
        {
            await KeysHost.UntilAsync(_ => Task.FromResult(GatewaySpan(refused) is not null), timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The refused request's span was not exported within {ExportTimeout.TotalSeconds} s.");
        }

        // The passed request ended first: had it been exported, it would have arrived with the refusal or before it.
        await Task.Delay(QuietPeriod);
        Assert.Equal("401", GatewaySpan(refused)!.Attributes["http.response.status_code"]);
        Assert.Null(GatewaySpan(passed));
    }

    private ExportedSpan? GatewaySpan(string path) =>
        fixture.Metrics.Spans.FirstOrDefault(s => s.Service == "gateway" && s.Attributes.GetValueOrDefault("url.path") == path);
}
