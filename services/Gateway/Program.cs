using Keys.Gateway;
using Keys.Gateway.Authentication;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

// First, so that everything after it (the throttle above all) sees the client a trusted proxy names. Without trusted
// proxies there is no such middleware: X-Forwarded-For is never read, whoever sends it.
if (TrustedProxies.AreConfigured(app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value))
{
    app.UseForwardedHeaders();
}

app.MapDefaultEndpoints();
app.UseCors();
var keyChecks = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.KeyChecks;
app.MapReverseProxy(proxy =>
{
    // The key check comes first: a request without a valid key is refused before any destination work (no affinity
    // lookup, whose failure policy may answer 503 itself; no load-balancing pick; no health bookkeeping). The steps
    // after it are the ones the parameterless MapReverseProxy runs, in its order: a custom pipeline replaces them all.
    // It is off only in Development or Benchmark, and with every route open (GatewayOptions.KeyChecks): plain YARP, for benchmarks.
    if (keyChecks)
    {
        proxy.UseMiddleware<KeyAuthenticationMiddleware>();
    }

    proxy.UseSessionAffinity();
    proxy.UseLoadBalancing();
    proxy.UsePassiveHealthChecks();
});

app.Run();
