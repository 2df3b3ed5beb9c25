using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Keys.ServiceDefaults.Tracing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Keys.UnitTests;

/// <summary>
/// OpenTelemetry:Tracing as a service reads it (AddServiceDefaults, a real tracer provider) and the sampler's
/// decisions: a ratio of roots, parents obeyed, and errors and refusals exported when their trace was not sampled.
/// </summary>
public sealed class TraceSamplingTests
{
    private static readonly ActivityTraceId SomeTrace = ActivityTraceId.CreateRandom();

    [Fact]
    public void WithNothingConfiguredAServiceSamplesOneTraceInAHundredAndKeepsErrors()
    {
        using var host = Host(new Dictionary<string, string?>());

        var options = host.Services.GetRequiredService<IOptions<TracingOptions>>().Value;

        Assert.Equal((0.01, true, 100), (options.SampleRatio, options.KeepErrors, options.KeptErrorsPerSecond));
    }

    [Fact]
    public void TheSectionBindsTheRatioAndKeepErrors()
    {
        using var host = Host(new() { ["OpenTelemetry:Tracing:SampleRatio"] = "0.25", ["OpenTelemetry:Tracing:KeepErrors"] = "false" });

        var options = host.Services.GetRequiredService<IOptions<TracingOptions>>().Value;

        Assert.Equal((0.25, false), (options.SampleRatio, options.KeepErrors));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    public void ARatioOutsideZeroToOneIsRefused(double ratio)
    {
        var options = new TracingOptions { SampleRatio = ratio };

        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), null, validateAllProperties: true));
    }

    [Fact]
    public void AtRatioZeroWithKeepErrorsARootIsRecordedButNotSampled() =>
        Assert.Equal(SamplingDecision.RecordOnly, Decide(new TracingOptions { SampleRatio = 0, KeepErrors = true }, parent: default));

    [Fact]
    public void AtRatioZeroWithoutKeepErrorsARootIsDropped() =>
        Assert.Equal(SamplingDecision.Drop, Decide(new TracingOptions { SampleRatio = 0, KeepErrors = false }, parent: default));

    [Fact]
    public void AtRatioOneEveryRootIsSampled() =>
        Assert.Equal(SamplingDecision.RecordAndSample, Decide(new TracingOptions { SampleRatio = 1, KeepErrors = true }, parent: default));

    [Fact]
    public void ACallerThatSampledItsTraceIsFollowedWhateverTheRatio() =>
        Assert.Equal(
            SamplingDecision.RecordAndSample,
            Decide(new TracingOptions { SampleRatio = 0, KeepErrors = false }, Parent(ActivityTraceFlags.Recorded)));

    [Fact]
    public void ACallerThatDidNotSampleItsTraceIsFollowedWhateverTheRatio()
    {
        Assert.Equal(SamplingDecision.Drop, Decide(new TracingOptions { SampleRatio = 1, KeepErrors = false }, Parent(ActivityTraceFlags.None)));
        Assert.Equal(SamplingDecision.RecordOnly, Decide(new TracingOptions { SampleRatio = 1, KeepErrors = true }, Parent(ActivityTraceFlags.None)));
    }

    [Theory]
    [InlineData(401, true)]
    [InlineData(403, true)]
    [InlineData(429, true)]
    [InlineData(503, true)]
    [InlineData(400, true)]
    [InlineData(404, false)]
    [InlineData(200, false)]
    [InlineData(302, false)]
    public void AnHttpAnswerIsAnErrorOrRefusalFrom400Except404(int status, bool kept)
    {
        using var activity = new Activity("request");
        activity.SetTag("http.response.status_code", status);

        Assert.Equal(kept, TraceSampling.IsErrorOrRefusal(activity));
    }

    [Theory]
    [InlineData("grpc.status_code", "0", false)]
    [InlineData("grpc.status_code", "16", true)]
    [InlineData("rpc.grpc.status_code", "14", true)]
    public void AGrpcCallIsAnErrorOrRefusalWhenItsStatusIsNotOk(string tag, string status, bool kept)
    {
        using var activity = new Activity("call");
        activity.SetTag("http.response.status_code", 200);
        activity.SetTag(tag, status);

        Assert.Equal(kept, TraceSampling.IsErrorOrRefusal(activity));
    }

    [Fact]
    public void ASpanWithAnErrorStatusIsAnError()
    {
        using var activity = new Activity("work");
        activity.SetStatus(ActivityStatusCode.Error);

        Assert.True(TraceSampling.IsErrorOrRefusal(activity));
    }

    [Fact]
    public void AtRatioZeroWithKeepErrorsARefusedRequestIsExportedAndAPassedOneIsNot()
    {
        var exported = new List<Activity>();
        using var host = Host(new() { ["OpenTelemetry:Tracing:SampleRatio"] = "0", ["OpenTelemetry:Tracing:KeepErrors"] = "true" }, exported);
        using var source = new ActivitySource("Keys.UnitTests.Tracing");

        using (var refused = source.StartActivity("refused"))
        {
            refused!.SetTag("http.response.status_code", 401);
        }

        using (var passed = source.StartActivity("passed"))
        {
            passed!.SetTag("http.response.status_code", 200);
        }

        Assert.Equal(["refused"], exported.Select(a => a.OperationName));
    }

    [Fact]
    public void AFloodOfRefusalsExportsAtMostTheConfiguredSpansASecond()
    {
        var exported = new List<Activity>();
        using var host = Host(new() { ["OpenTelemetry:Tracing:SampleRatio"] = "0", ["OpenTelemetry:Tracing:KeptErrorsPerSecond"] = "3" }, exported);
        using var source = new ActivitySource("Keys.UnitTests.Tracing");

        // Fast enough to fall within one or two seconds of the clock: never more than twice the limit.
        for (var i = 0; i < 50; i++)
        {
            using var refused = source.StartActivity("refused");
            refused!.SetTag("http.response.status_code", 401);
        }

        Assert.InRange(exported.Count, 3, 6);
    }

    [Fact]
    public void TheErrorAllowanceStartsAgainEachSecond()
    {
        var processor = new TraceSampling.KeepErrorsProcessor(2);

        bool[] kept = [processor.TryKeep(10), processor.TryKeep(10), processor.TryKeep(10), processor.TryKeep(11), processor.TryKeep(11), processor.TryKeep(11)];

        Assert.Equal([true, true, false, true, true, false], kept);
    }

    [Fact]
    public void AtRatioZeroWithoutKeepErrorsNothingIsExported()
    {
        var exported = new List<Activity>();
        using var host = Host(new() { ["OpenTelemetry:Tracing:SampleRatio"] = "0", ["OpenTelemetry:Tracing:KeepErrors"] = "false" }, exported);
        using var source = new ActivitySource("Keys.UnitTests.Tracing");

        using (var refused = source.StartActivity("refused"))
        {
            refused?.SetTag("http.response.status_code", 401);
        }

        Assert.Empty(exported);
    }

    [Fact]
    public void TheSectionWinsOverTheStandardSamplerVariableThatAspireSets()
    {
        var exported = new List<Activity>();
        using var host = Host(new() { ["OTEL_TRACES_SAMPLER"] = "always_on", ["OpenTelemetry:Tracing:SampleRatio"] = "0" }, exported);
        using var source = new ActivitySource("Keys.UnitTests.Tracing");

        using (source.StartActivity("passed"))
        {
        }

        Assert.Empty(exported);
    }

    [Fact]
    public void WithTheSectionEmptyTheStandardSamplerVariableDecides()
    {
        var exported = new List<Activity>();
        using var host = Host(new() { ["OTEL_TRACES_SAMPLER"] = "always_off" }, exported);
        using var source = new ActivitySource("Keys.UnitTests.Tracing");

        using (var refused = source.StartActivity("refused"))
        {
            refused?.SetTag("http.response.status_code", 401);
        }

        Assert.Empty(exported);
    }

    private static SamplingDecision Decide(TracingOptions options, ActivityContext parent) =>
        TraceSampling.Create(options).ShouldSample(new SamplingParameters(parent, SomeTrace, "request", ActivityKind.Server)).Decision;

    private static ActivityContext Parent(ActivityTraceFlags flags) => new(SomeTrace, ActivitySpanId.CreateRandom(), flags, isRemote: true);

    // A service's host as AddServiceDefaults makes it, with an exporter that keeps what it is given, added after the
    // service defaults as UseOtlpExporter is.
    private static IHost Host(Dictionary<string, string?> settings, List<Activity>? exported = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.ConfigureOpenTelemetry();
        if (exported is not null)
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddProcessor(new SimpleActivityExportProcessor(new ListExporter(exported))));
        }

        var host = builder.Build();
        // The tracer provider is built when first asked for; the hosted service would ask at start.
        host.Services.GetRequiredService<TracerProvider>();
        return host;
    }

    private sealed class ListExporter(List<Activity> exported) : BaseExporter<Activity>
    {
        public override ExportResult Export(in Batch<Activity> batch)
        {
            foreach (var activity in batch)
            {
                exported.Add(activity);
            }

            return ExportResult.Success;
        }
    }
}
