using Keys.KeyValidation.Caching;
using Keys.KeyValidation.Invalidation;
using Keys.KeyValidation.Usage;
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

        // Fail fast while Redis is away rather than queue: lookups go to KeyAdmin meanwhile, and Redis is brought up to
        // date when it is back.
        builder.AddRedisClient("redis", configureOptions: options => options.BacklogPolicy = StackExchange.Redis.BacklogPolicy.FailFast);

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
        builder.Services.AddSingleton<ValidationMetrics>();
        builder.Services.AddSingleton<LocalRecordCache>();
        builder.Services.AddSingleton<RedisRecordStore>();
        builder.Services.AddSingleton<KeyRecordResolver>();
        builder.Services.AddSingleton<InvalidationFeed>();
        builder.Services.AddSingleton<KeyAdminChanges>();
        builder.Services.AddHostedService<InvalidationListener>();
        builder.Services.AddSingleton<RedisSync>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RedisSync>());
        builder.Services.AddHealthChecks().AddCheck<InvalidationHealthCheck>("invalidations");
        builder.Services.AddSingleton<UsageRecorder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<UsageRecorder>());

        builder.Services.AddGrpc();
        builder.Services.AddGrpcHealthChecks();
    }
}
