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
app.MapReverseProxy(proxy => proxy.UseMiddleware<KeyAuthenticationMiddleware>());

app.Run();
