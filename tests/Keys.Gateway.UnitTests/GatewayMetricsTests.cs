using System.Reflection;
using System.Text.RegularExpressions;
using Keys.AspNetCore;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.AspNetCore.Invalidation;
using Keys.Gateway.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;

namespace Keys.Gateway.UnitTests;

/// <summary>
/// The gateway's request counter is low-cardinality and documented: one series per outcome, each outcome a fixed word
/// or a refusal code, and every code the gateway can answer is listed in <c>docs/operations.md</c>.
/// </summary>
public sealed partial class GatewayMetricsTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void RequestsAreCountedByOutcomeOkOpenOrTheRefusalsCode()
    {
        var meters = _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var checks = new ApiKeyMetrics(
            meters, new NearCache(Options.Create(new ApiKeyValidationOptions()), time), new WatchStatus(time));
        var metrics = new GatewayMetrics(meters, checks);
        using var requests = new MetricCollector<long>(meters, GatewayMetrics.MeterName, "keys.gateway.requests");

        // The key check counts what it decided; the gateway adds the requests of routes that need no key.
        checks.Checked(null);
        checks.Checked(null);
        metrics.Open();
        checks.Checked(ApiKeyRefusal.MissingKey);
        // Two refusals with one code (a malformed key, two keys at once) are one series.
        checks.Checked(ApiKeyRefusal.InvalidKey);
        checks.Checked(ApiKeyRefusal.AmbiguousKey);
        checks.Checked(GatewayRefusals.InvalidPath);
        requests.RecordObservableInstruments();

        var byOutcome = requests.GetMeasurementSnapshot().ToDictionary(m => (string)m.Tags["outcome"]!, m => m.Value);
        Assert.Equal(
            new Dictionary<string, long> { ["ok"] = 2, ["open"] = 1, ["UNAUTHORIZED"] = 1, ["INVALID_TOKEN"] = 2, ["INVALID_PATH"] = 1 },
            byOutcome);
    }

    [Fact]
    public void EveryRefusalCodeTheGatewayCanAnswerIsDocumentedAsAnOutcomeOfItsRequestCounter()
    {
        var row = File.ReadLines(Path.Combine(RepositoryRoot(), "docs", "operations.md"))
            .Single(line => line.StartsWith("| `keys.gateway.requests`", StringComparison.Ordinal));
        var documented = Code().Matches(row).Select(m => m.Groups[1].Value).ToHashSet();

        var codes = typeof(ApiKeyRefusal).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Concat(typeof(GatewayRefusals).GetFields(BindingFlags.Public | BindingFlags.Static))
            .Where(f => f.FieldType == typeof(ApiKeyRefusal))
            .Select(f => ((ApiKeyRefusal)f.GetValue(null)!).Error)
            .Append(ApiKeyRefusal.TooManyInvalidKeys(10).Error)
            .Append("ok")
            .Append("open")
            .ToHashSet();

        Assert.Empty(codes.Except(documented));
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Keys.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Keys.sln not found above the test's output.");
    }

    [GeneratedRegex("`([A-Za-z_]+)`")]
    private static partial Regex Code();
}
