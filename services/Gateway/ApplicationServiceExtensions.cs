using Keys.Gateway.Authentication;
using Microsoft.Extensions.Options;

namespace Keys.Gateway;

public static class ApplicationServiceExtensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<GatewayOptions>()
            .BindConfiguration(GatewayOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddGrpcClient<V1.KeyValidation.KeyValidationClient>((sp, client) =>
            client.Address = sp.GetRequiredService<IOptions<GatewayOptions>>().Value.KeyValidationAddress);

        builder.Services.AddSingleton<KeyAuthenticationMiddleware>();

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddServiceDiscoveryDestinationResolver();
    }
}
