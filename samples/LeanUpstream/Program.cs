using System.Text;

// The benchmark's upstream (bench/Keys.Benchmarks, part "edge"): Kestrel answering every request at once with the
// same small body, so that what a proxy in front of it costs is what a measurement shows. It also swallows OTLP/HTTP
// exports (POST /v1/traces, /v1/metrics, /v1/logs) with an empty success, for a gateway whose trace export is measured.
// No service defaults: no telemetry, no health checks, nothing on the path but the answer.
// Usage: dotnet Keys.LeanUpstream.dll --urls http://127.0.0.1:5099
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();

var app = builder.Build();

var body = Encoding.UTF8.GetBytes("{\"ok\":true}");
app.Run(context =>
{
    var response = context.Response;
    if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.StartsWithSegments("/v1"))
    {
        // An OTLP ExportServiceResponse with no field set is an empty message; the request body is left unread.
        response.ContentType = "application/x-protobuf";
        response.ContentLength = 0;
        return Task.CompletedTask;
    }

    response.ContentType = "application/json";
    response.ContentLength = body.Length;
    return response.Body.WriteAsync(body).AsTask();
});

app.Run();
