using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

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

        var healthKey = $"{name}-answers-ping";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthKey, ct => RedisPingAsync(endpoint, passwordValue, ct));
        return redis.WithHealthCheck(healthKey);
    }

    // A bare TCP connect would pass through DCP's proxy even with the server down: speak the protocol.
    private static async Task<HealthCheckResult> RedisPingAsync(EndpointReference endpoint, string password, CancellationToken cancellationToken)
    {
        if (!endpoint.IsAllocated)
        {
            return HealthCheckResult.Unhealthy("Redis has no port yet.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        using var client = new TcpClient();
        await client.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"AUTH {password}\r\nPING\r\n"), timeout.Token);

        var received = new StringBuilder();
        var buffer = new byte[256];
        while (!received.ToString().Contains("+PONG", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                return HealthCheckResult.Unhealthy("Redis closed the connection.");
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            if (received.ToString().StartsWith('-'))
            {
                return HealthCheckResult.Unhealthy("Redis refused the health check.");
            }
        }

        return HealthCheckResult.Healthy();
    }
}
