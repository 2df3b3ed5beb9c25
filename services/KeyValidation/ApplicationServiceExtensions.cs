using Keys.KeyValidation.Caching;
using Keys.KeyValidation.Grpc;
using Keys.KeyValidation.Invalidation;
using Keys.KeyValidation.Lookup;
using Keys.KeyValidation.RateLimiting;
using Keys.KeyValidation.Usage;
using Keys.ServiceAuth;
using Keys.V1;
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

        builder.Services.AddServiceAuth();
        // KeyAdmin's internal API, with this service's own credential: KeyValidation never holds the operator token.
        builder.Services.AddGrpcClient<KeyAdminInternalService.KeyAdminInternalServiceClient>((sp, client) =>
                client.Address = sp.GetRequiredService<IOptions<KeyValidationOptions>>().Value.KeyAdminAddress)
            .AddServiceCredential();

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ValidationMetrics>();
        builder.Services.AddSingleton<LocalRecordCache>();
        builder.Services.AddSingleton<RedisRecordStore>();
        builder.Services.AddSingleton<RedisLookupLeases>();
        builder.Services.AddSingleton<RateBudgetStore>();
        builder.Services.AddSingleton<KeyRecordResolver>();
        builder.Services.AddSingleton<InvalidationFeed>();
        builder.Services.AddSingleton<InvalidationSubscription>();
        builder.Services.AddSingleton<KeyAdminChanges>();
        builder.Services.AddHostedService<InvalidationListener>();
        builder.Services.AddHostedService<CacheFlushListener>();
        builder.Services.AddSingleton<RedisSync>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RedisSync>());
        builder.Services.AddHealthChecks().AddCheck<InvalidationHealthCheck>("invalidations");
        builder.Services.AddSingleton<UsageRecorder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<UsageRecorder>());

        builder.Services.AddSingleton<WatchAdmission>();
        builder.Services.AddGrpc().RequireServiceCredential<ValidationApi>();
        builder.Services.AddGrpcHealthChecks();
        builder.Services.AddGrpcReflection();
    }
}
