using Keys.ServiceDefaults.Tracing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>What every Keys service shares: OpenTelemetry, health endpoints and service discovery.</summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();

        // Service discovery for every HttpClient (gRPC clients included). No blanket resilience handler: the callers
        // here are gRPC clients whose deadlines and retries are part of their contract (a gateway must fail closed
        // within its deadline, and a server stream must not be cut by a per-attempt timeout).
        builder.Services.ConfigureHttpClientDefaults(http => http.AddServiceDiscovery());

        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // Aspire turns query-string redaction off for local runs. Keys keeps it on: a client that puts a key in a
        // query string (never the documented way) must not see it land in a trace.
        builder.Configuration["OTEL_DOTNET_EXPERIMENTAL_ASPNETCORE_DISABLE_URL_QUERY_REDACTION"] = "false";
        builder.Configuration["OTEL_DOTNET_EXPERIMENTAL_HTTPCLIENT_DISABLE_URL_QUERY_REDACTION"] = "false";

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        // Internal calls that background loops make every second (catch-up polls) would bury the request traces
        // operators look for; services list their paths under OpenTelemetry:UntracedPaths.
        var untraced = builder.Configuration.GetSection("OpenTelemetry:UntracedPaths").Get<string[]>() ?? [];

        // Which requests are traced: OpenTelemetry:Tracing when it says anything; otherwise the standard
        // OTEL_TRACES_SAMPLER when set (Aspire sets always_on for every service it runs); otherwise TracingOptions'
        // defaults, the production ones.
        builder.Services.AddOptions<TracingOptions>()
            .BindConfiguration(TracingOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var standardSampler = TraceSampling.StandardSamplerDecides(builder.Configuration);

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Keys.*"))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                // Libraries' own sources, such as Keys.AspNetCore's key lookups.
                .AddSource("Keys.*")
                .AddAspNetCoreInstrumentation(options => options.Filter = context =>
                    !IsHealthRequest(context) && !untraced.Any(path => context.Request.Path.StartsWithSegments(path)))
                .AddHttpClientInstrumentation());

        if (!standardSampler)
        {
            // Added here, before UseOtlpExporter below adds the exporter's processor: processors see a span in the order
            // they were added, and the exporter must see the sampled flag this one sets on an error.
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
                .ConfigureSampler((services, _) => TraceSampling.Create(services.GetRequiredService<IOptions<TracingOptions>>().Value))
                // Without KeepErrors it never acts: no span is recorded unless it is sampled.
                .AddProcessor(services => new TraceSampling.KeepErrorsProcessor(
                    services.GetRequiredService<IOptions<TracingOptions>>().Value.KeptErrorsPerSecond)));
        }

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        builder.Services.AddBackgroundLoops();

        return builder;
    }

    /// <summary>
    /// Maps <c>/health</c> (ready: every check) and <c>/alive</c> (live checks only). They answer only a status word,
    /// so they are safe to serve in every environment; the orchestrator needs them outside Development too.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains("live"),
        });

        return app;
    }

    private static bool IsHealthRequest(HttpContext context) =>
        context.Request.Path.StartsWithSegments(HealthEndpointPath)
        || context.Request.Path.StartsWithSegments(AlivenessEndpointPath);
}
