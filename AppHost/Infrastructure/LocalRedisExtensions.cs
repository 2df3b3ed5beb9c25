using System.Runtime.Versioning;
using Microsoft.Extensions.DependencyInjection;

namespace Keys.AppHost.Infrastructure;

[UnsupportedOSPlatform("windows")]
public static class LocalRedisExtensions
{
    /// <summary>The <c>redis-server</c> at <paramref name="redisServer"/>, on loopback, with a password and nothing saved to disk.</summary>
    public static IResourceBuilder<LocalRedisResource> AddLocalRedis(
        this IDistributedApplicationBuilder builder, string name, string dataDirectory, string redisServer)
    {
        var passwordValue = LocalSecrets.GetOrCreate(Path.Combine(dataDirectory, $"{name}-password"));
        var password = builder.AddParameter($"{name}-password", passwordValue, secret: true);

        // The password goes in a file only its owner can read, not on the command line where every process can see it.
        var configPath = Path.Combine(dataDirectory, $"{name}.conf");
        LocalSecrets.WriteAtomically(configPath, $"""
            bind 127.0.0.1 ::1
            requirepass {passwordValue}
            save ""
            appendonly no
            """);

        var redis = builder.AddResource(new LocalRedisResource(name, redisServer, dataDirectory, password.Resource))
            .WithEndpoint(name: LocalRedisResource.EndpointName, scheme: "tcp");
        var endpoint = redis.Resource.Endpoint;
        redis.WithArgs(context =>
        {
            context.Args.Add(configPath);
            context.Args.Add("--port");
            context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
        });

        // The check logs in and pings: a bare TCP connect would pass through DCP's proxy even with the server down. Its
        // connection string exists only once DCP has given Redis a port; Aspire's own Redis integration waits the same way.
        string? connectionString = null;
        redis.OnConnectionStringAvailable(async (resource, _, ct) =>
            connectionString = await resource.ConnectionStringExpression.GetValueAsync(ct));
        var healthKey = $"{name}-answers-ping";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"{name} has no port yet."), healthKey);
        return redis.WithHealthCheck(healthKey);
    }
}
