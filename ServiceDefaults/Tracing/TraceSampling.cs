using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Keys.ServiceDefaults.Tracing;

/// <summary>The sampler and the processor that <see cref="TracingOptions"/> describe.</summary>
public static class TraceSampling
{
    /// <summary>The configuration key of the standard sampler variable.</summary>
    public const string StandardSamplerKey = "OTEL_TRACES_SAMPLER";

    /// <summary>
    /// True when <c>OTEL_TRACES_SAMPLER</c> is set and <see cref="TracingOptions.SectionName"/> says nothing: then the
    /// OpenTelemetry SDK's own sampler applies (with <c>OTEL_TRACES_SAMPLER_ARG</c>). Aspire sets <c>always_on</c> on
    /// every service it runs, so the section has to win when an operator or the AppHost fills it.
    /// </summary>
    public static bool StandardSamplerDecides(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration[StandardSamplerKey])
        && !configuration.GetSection(TracingOptions.SectionName).GetChildren().Any(setting => setting.Value is not null);

    public static Sampler Create(TracingOptions options)
    {
        Sampler sampler = new ParentBasedSampler(new TraceIdRatioBasedSampler(options.SampleRatio));
        return options.KeepErrors ? new RecordUnsampledSampler(sampler) : sampler;
    }

    /// <summary>
    /// True for a span whose outcome an operator wants to see even when its trace was not sampled: an error status,
    /// an HTTP answer of 400 or more other than 404 (a refusal by the gateway: 401, 403, 429, 503), or a gRPC status
    /// other than OK. 404 is left out: scanners send them by the thousand, and they say nothing about Keys.
    /// </summary>
    public static bool IsErrorOrRefusal(Activity activity)
    {
        if (activity.Status == ActivityStatusCode.Error)
        {
            return true;
        }

        if (Number(activity.GetTagItem("http.response.status_code")) is { } status && status >= 400 && status != 404)
        {
            return true;
        }

        // OpenTelemetry's name for it, then the one Grpc.AspNetCore sets on the request's activity.
        return (Number(activity.GetTagItem("rpc.grpc.status_code")) ?? Number(activity.GetTagItem("grpc.status_code"))) is { } grpc && grpc != 0;
    }

    private static long? Number(object? tag) => tag switch
    {
        int value => value,
        long value => value,
        short value => value,
        string text when long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) => value,
        _ => null,
    };

    /// <summary>
    /// Records (without exporting) what the inner sampler drops, so that <see cref="KeepErrorsProcessor"/> can still
    /// export a span once its outcome is known. The decision to sample is the inner one's, and so is what is propagated
    /// downstream (the sampled flag stays off).
    /// </summary>
    public sealed class RecordUnsampledSampler(Sampler inner) : Sampler
    {
        public Sampler Inner { get; } = inner;

        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
        {
            var result = Inner.ShouldSample(samplingParameters);
            return result.Decision == SamplingDecision.Drop
                ? new SamplingResult(SamplingDecision.RecordOnly, result.Attributes, result.TraceStateString)
                : result;
        }
    }

    /// <summary>
    /// Marks an unsampled span that ended in an error or a refusal as sampled, before the exporter's processor (added
    /// after this one) decides whether to export it. Only that span is kept: its unsampled parent and children are
    /// not (a whole trace would need a tail-sampling collector).
    /// </summary>
    /// <remarks>
    /// At most <paramref name="perSecond"/> spans a second are kept, counted in whole seconds of the process's clock: a
    /// client that is refused on purpose, as fast as it can, gets as many spans exported as one that is refused by chance.
    /// </remarks>
    public sealed class KeepErrorsProcessor(int perSecond) : BaseProcessor<Activity>
    {
        // The second (of Environment.TickCount64) being counted, and how many spans were kept in it.
        private long _second = -1;
        private int _kept;

        public override void OnEnd(Activity data)
        {
            if (!data.Recorded && IsErrorOrRefusal(data) && TryKeep(Environment.TickCount64 / 1000))
            {
                data.ActivityTraceFlags |= ActivityTraceFlags.Recorded;
            }
        }

        /// <summary>True while fewer than the limit were kept in <paramref name="second"/>.</summary>
        public bool TryKeep(long second)
        {
            var counting = Volatile.Read(ref _second);
            if (counting != second && Interlocked.CompareExchange(ref _second, second, counting) == counting)
            {
                // This call moved the count on to a new second; racing calls of the old one may still add to it.
                Interlocked.Exchange(ref _kept, 0);
            }

            return Interlocked.Increment(ref _kept) <= perSecond;
        }
    }
}
