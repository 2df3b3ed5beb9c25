using Keys.Gateway.Authentication;
using Keys.Gateway.Caching;
using Keys.Gateway.Invalidation;
using Keys.ServiceAuth;
using Keys.ServiceDefaults.Throttling;
using Keys.V1;
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
            .ValidateOnStart();

        // Read only when Program adds the middleware, that is when trusted proxies are configured.
        builder.Services.AddOptions<ForwardedHeadersOptions>()
            .Configure<IOptions<GatewayOptions>>((forwarded, gateway) => TrustedProxies.Configure(forwarded, gateway.Value));

        builder.Services.AddServiceAuth();
        builder.Services.AddGrpcClient<KeyValidationService.KeyValidationServiceClient>((sp, client) =>
                client.Address = sp.GetRequiredService<IOptions<GatewayOptions>>().Value.KeyValidationAddress)
            .AddServiceCredential();

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<NearCache>();
        builder.Services.AddSingleton<SharedLookups>();
        builder.Services.AddHostedService<InvalidationWatcher>();
        builder.Services.AddSingleton(sp =>
        {
            var gateway = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            return new AddressThrottle(
                gateway.InvalidKeyLimit, gateway.InvalidKeyWindow, sp.GetRequiredService<TimeProvider>(), gateway.InvalidKeyMaxAddresses);
        });
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
            .AddServiceDiscoveryDestinationResolver();
    }
}
