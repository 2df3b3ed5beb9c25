using System.ComponentModel.DataAnnotations;

namespace Keys.ServiceDefaults.Tracing;

/// <summary>
/// Which requests every Keys service traces (section <c>OpenTelemetry:Tracing</c>). When the section says nothing and
/// the standard <c>OTEL_TRACES_SAMPLER</c> (with <c>OTEL_TRACES_SAMPLER_ARG</c>) is set, that applies instead.
/// </summary>
public sealed class TracingOptions
{
    public const string SectionName = "OpenTelemetry:Tracing";

    /// <summary>
    /// What a deployment that says nothing samples. Exporting every span costs a gateway about half its capacity
    /// (docs/operations.md, "Tracing and its cost"); at one request in a hundred a busy gateway still shows its traces
    /// while only that hundredth pays for export. <c>./keys run</c> sets 1.0, for the dashboard.
    /// </summary>
    public const double DefaultSampleRatio = 0.01;

    /// <summary>
    /// The share of traces started here (requests that arrive without a sampled parent) that are recorded and exported,
    /// 0 to 1. A request whose caller sampled it is always traced, and one whose caller did not is not (parent-based):
    /// a trace is whole or absent across services.
    /// </summary>
    [Range(0.0, 1.0)]
    public double SampleRatio { get; set; } = DefaultSampleRatio;

    /// <summary>
    /// Spans of requests that failed or were refused (HTTP 400 and above except 404, a gRPC status other than OK, an
    /// error status) are exported even when their trace was not sampled. The price: every unsampled span is still
    /// recorded (not exported), so that its outcome can be read when it ends.
    /// </summary>
    public bool KeepErrors { get; set; } = true;

    /// <summary>
    /// At most this many unsampled error and refusal spans are exported per second by one process (<see cref="KeepErrors"/>);
    /// past it, they are dropped like any unsampled span until the next second. Refusals are what a client controls: a
    /// flood of garbage keys must not turn into a flood of exported spans, whose cost the refusal path would then pay.
    /// </summary>
    [Range(1, 1_000_000)]
    public int KeptErrorsPerSecond { get; set; } = 100;
}
