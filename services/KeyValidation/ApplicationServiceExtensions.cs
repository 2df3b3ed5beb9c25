using Keys.KeyValidation.Caching;
using Microsoft.Extensions.Options;

namespace Keys.KeyValidation;

public static class ApplicationServiceExtensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<KeyValidationOptions>()
            .BindConfiguration(KeyValidationOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.AddRedisClient("redis");

        builder.Services.AddGrpcClient<V1.KeyAdmin.KeyAdminClient>((sp, client) =>
                client.Address = sp.GetRequiredService<IOptions<KeyValidationOptions>>().Value.KeyAdminAddress)
            .AddCallCredentials((context, metadata, sp) =>
            {
                metadata.Add("Authorization", "Bearer " + sp.GetRequiredService<IOptions<KeyValidationOptions>>().Value.AdminToken);
                return Task.CompletedTask;
            })
            // Service-to-service traffic is h2c on the host's loopback or a private network; TLS terminates elsewhere.
            .ConfigureChannel(channel => channel.UnsafeUseInsecureChannelCallCredentials = true);

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<KeyRecordCache>();
        builder.Services.AddHostedService<InvalidationSubscriber>();

        builder.Services.AddGrpc();
        builder.Services.AddGrpcHealthChecks();
    }
}
