using Keys.AspNetCore;
using Keys.Gateway.Authentication;
using Microsoft.Extensions.Options;

namespace Keys.Gateway;

public static class ApplicationServiceExtensions
{
    public const string BrowserAppsCorsPolicy = "browser-apps";

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(TrustedProxies.AreValid, "Gateway:TrustedProxies must hold IP addresses, and Gateway:TrustedNetworks CIDR ranges such as 10.0.0.0/8.")
            .Validate<IHostEnvironment>(
                (gateway, environment) => GatewayOptions.KeyChecksSettingAllowed(gateway.KeyChecks, environment.EnvironmentName),
                "Gateway:KeyChecks=false (no key checks at all, a benchmark's switch) is refused outside the Development and Benchmark environments.")
            .ValidateOnStart();

        // Read only when Program adds the middleware, that is when trusted proxies are configured.
        builder.Services.AddOptions<ForwardedHeadersOptions>()
            .Configure<IOptions<GatewayOptions>>((forwarded, gateway) => TrustedProxies.Configure(forwarded, gateway.Value));

        // The near cache, the Watch stream that keeps it exact, lookups and the invalid-key throttle: the same key check
        // every service using Keys.AspNetCore runs (section ApiKeys).
        builder.Services.AddApiKeyValidation();
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddSingleton<KeyAuthenticationMiddleware>();

        // Browser apps call routes whose config names this policy, with publishable keys; preflights are answered
        // before any key check.
        builder.Services.AddCors();
        builder.Services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptions<GatewayOptions>>((cors, gateway) => cors.AddPolicy(BrowserAppsCorsPolicy, policy => policy
                .WithOrigins(gateway.Value.CorsAllowedOrigins)
                .WithHeaders(KeyAuthenticationMiddleware.ApiKeyHeader, "Authorization", "Content-Type")
                .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")));

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddServiceDiscoveryDestinationResolver()
            .AddConfigFilter<KeyChecksOffFilter>();
    }
}
