using Google.Protobuf.Reflection;
using Google.Rpc;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Grpc;
using Keys.KeyAdmin.Invalidation;

namespace Keys.KeyAdmin;

public static class ApplicationServiceExtensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<KeyAdminOptions>()
            .BindConfiguration(KeyAdminOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.AddNpgsqlDataSource("keysdb");
        builder.AddRedisClient("redis");

        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DatabaseMigrator>());
        builder.Services.AddHealthChecks().AddCheck<MigrationHealthCheck>("migrations");

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<KeyStore>();
        builder.Services.AddSingleton<InvalidationPublisher>();

        builder.Services.AddGrpc()
            // ErrorInfo rides in error details; the JSON writer must know the type to print it.
            .AddJsonTranscoding(options => options.TypeRegistry = TypeRegistry.FromMessages(ErrorInfo.Descriptor))
            .AddServiceOptions<KeyAdminService>(options => options.Interceptors.Add<AdminTokenInterceptor>());
        builder.Services.AddSingleton<AdminTokenInterceptor>();
        builder.Services.AddGrpcHealthChecks();
    }
}
