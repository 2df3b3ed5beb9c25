using Xunit.Abstractions;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// A system of its own whose services export their telemetry over OTLP to a receiver in the test process
/// (<see cref="OtlpMetricsReceiver"/>), every second, as they export to the dashboard under <c>./keys run</c>. One
/// replica of each service, so that a test that freezes KeyValidation knows which replica every Watch stream is on.
/// </summary>
public sealed class TelemetryAppFixture(IMessageSink diagnostics) : KeysAppFixture(diagnostics)
{
    private static readonly string[] Services = ["key-admin", "key-validation", "gateway", "demo-api", "orders"];

    public OtlpMetricsReceiver Metrics { get; } = new();

    protected override string Name => "telemetry";

    // These tests search the logs for health reports only.
    protected override bool RequestLogs => false;

    public override async Task InitializeAsync()
    {
        await Metrics.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Metrics.DisposeAsync();
    }

    protected override KeysHostOptions Configure(KeysHostOptions options) => options with
    {
        KeyValidationReplicas = 1,
        GatewayReplicas = 1,
        Environment =
        [
            .. options.Environment,
            .. Services.SelectMany(service => new[]
            {
                (service, "OTEL_EXPORTER_OTLP_ENDPOINT", Metrics.Endpoint.ToString().TrimEnd('/')),
                (service, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                (service, "OTEL_METRIC_EXPORT_INTERVAL", "1000"),
            }),
            // Metrics are what most of these tests read; spans would only add work. The gateway samples no trace and
            // keeps errors and refusals (OpenTelemetry:Tracing), for the test of what reaches an exporter then.
            .. Services.Where(service => service != "gateway").Select(service => (service, "OTEL_TRACES_SAMPLER", "always_off")),
            ("gateway", "OpenTelemetry__Tracing__SampleRatio", "0"),
            ("gateway", "OpenTelemetry__Tracing__KeepErrors", "true"),
            ("gateway", "OTEL_BSP_SCHEDULE_DELAY", "500"),
        ],
    };
}

[CollectionDefinition(Name)]
public sealed class TelemetryCollection : ICollectionFixture<TelemetryAppFixture>
{
    public const string Name = "Keys system exporting telemetry";
}
