var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();

var app = builder.Build();

app.MapDefaultEndpoints();

// Echoes what it received, so that tests and people can see exactly what the gateway forwarded.
app.Map("/{**path}", (HttpRequest request) => TypedResults.Ok(new EchoResponse(
    request.Method,
    request.Path.Value ?? "/",
    request.QueryString.Value ?? "",
    request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase))));

app.Run();

internal sealed record EchoResponse(string Method, string Path, string Query, Dictionary<string, string> Headers);
