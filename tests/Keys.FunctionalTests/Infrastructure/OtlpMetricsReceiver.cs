using System.Collections.Concurrent;
using System.Net;
using Keys.FunctionalTests.Otlp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>One metric as a service last exported it: its meter, kind and unit, and each data point.</summary>
/// <param name="Service">The exporting service's <c>service.name</c> (the Aspire resource's name).</param>
/// <param name="Meter">The instrumentation scope: the meter's name.</param>
/// <param name="Kind"><c>counter</c>, <c>updowncounter</c>, <c>gauge</c> or <c>histogram</c>, as <c>docs/operations.md</c> names them.</param>
public sealed record ExportedMetric(string Service, string Meter, string Name, string Kind, string Unit, IReadOnlyList<ExportedPoint> Points)
{
    /// <summary>The value of the one point whose attributes include <paramref name="key"/> = <paramref name="value"/>; null when none.</summary>
    public double? ValueWhere(string key, string value) =>
        Points.SingleOrDefault(p => p.Attributes.TryGetValue(key, out var v) && v == value)?.Value;
}

/// <summary>A data point: its attributes (as text) and its value (a histogram's: how many values it counted).</summary>
public sealed record ExportedPoint(IReadOnlyDictionary<string, string> Attributes, double Value);

/// <summary>A span as a service exported it: its name and attributes (as text).</summary>
public sealed record ExportedSpan(string Service, string Name, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// An OTLP/HTTP receiver in the test process, which services export to as they would to the dashboard or a collector
/// (<c>OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf</c>): it keeps the latest export of every metric of every service, and
/// keeps every span (<see cref="Spans"/>), and answers logs with an empty success. What a test reads here went over the wire from the real processes.
/// </summary>
public sealed class OtlpMetricsReceiver : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string Service, string Meter, string Name), ExportedMetric> _latest = new();
    private readonly ConcurrentQueue<ExportedSpan> _spans = new();
    private WebApplication? _app;

    /// <summary>Where services send OTLP (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>); they add the signal's path.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The latest export of each metric, by service, meter and name.</summary>
    public IReadOnlyCollection<ExportedMetric> Latest => [.. _latest.Values];

    /// <summary>Every span exported so far, by every service.</summary>
    public IReadOnlyCollection<ExportedSpan> Spans => [.. _spans];

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapPost("/v1/metrics", ReceiveAsync);
        _app.MapPost("/v1/traces", ReceiveSpansAsync);
        _app.MapPost("/v1/{signal}", () => Results.Bytes([], "application/x-protobuf"));
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Endpoint = new Uri(address);
    }

    /// <summary>The latest export of a metric by a service; null until one arrived.</summary>
    public ExportedMetric? Find(string service, string meter, string name) => _latest.GetValueOrDefault((service, meter, name));

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private async Task<IResult> ReceiveAsync(HttpRequest request)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        var export = ExportMetricsServiceRequest.Parser.ParseFrom(body.ToArray());
        foreach (var resource in export.ResourceMetrics)
        {
            var service = Text(resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value) ?? "(unnamed)";
            foreach (var scope in resource.ScopeMetrics)
            {
                foreach (var metric in scope.Metrics)
                {
                    _latest[(service, scope.Scope?.Name ?? "", metric.Name)] = Read(service, scope.Scope?.Name ?? "", metric);
                }
            }
        }

        return Results.Bytes([], "application/x-protobuf");
    }

    private async Task<IResult> ReceiveSpansAsync(HttpRequest request)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        var export = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
        foreach (var resource in export.ResourceSpans)
        {
            var service = Text(resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value) ?? "(unnamed)";
            foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
            {
                _spans.Enqueue(new ExportedSpan(service, span.Name, Attributes(span.Attributes)));
            }
        }

        return Results.Bytes([], "application/x-protobuf");
    }

    private static ExportedMetric Read(string service, string meter, Metric metric)
    {
        var (kind, points) = metric.DataCase switch
        {
            Metric.DataOneofCase.Gauge => ("gauge", metric.Gauge.DataPoints.Select(Point)),
            Metric.DataOneofCase.Sum => (metric.Sum.IsMonotonic ? "counter" : "updowncounter", metric.Sum.DataPoints.Select(Point)),
            Metric.DataOneofCase.Histogram => ("histogram", metric.Histogram.DataPoints.Select(p => new ExportedPoint(Attributes(p.Attributes), p.Count))),
            _ => (metric.DataCase.ToString(), []),
        };
        return new ExportedMetric(service, meter, metric.Name, kind, metric.Unit, [.. points]);
    }

    private static ExportedPoint Point(NumberDataPoint point) =>
        new(Attributes(point.Attributes), point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble);

    private static Dictionary<string, string> Attributes(IEnumerable<KeyValue> attributes) =>
        attributes.ToDictionary(a => a.Key, a => Text(a.Value) ?? "");

    private static string? Text(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => null,
    };
}
