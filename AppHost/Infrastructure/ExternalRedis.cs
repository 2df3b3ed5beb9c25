using StackExchange.Redis;

namespace Keys.AppHost.Infrastructure;

/// <summary>What a configured <c>ConnectionStrings:redis</c> points at.</summary>
/// <param name="ServiceName">The Sentinel service (master group) name; null for a Redis server reached directly.</param>
/// <param name="Endpoints">The servers named: Sentinels when <paramref name="ServiceName"/> is set, else Redis itself.</param>
public sealed record ExternalRedis(string? ServiceName, IReadOnlyList<string> Endpoints)
{
    public bool IsSentinel => ServiceName is not null;

    /// <summary>
    /// Reads a StackExchange.Redis configuration string as every service will (they hand it to
    /// <see cref="ConfigurationOptions.Parse(string)"/>), so that a mistake stops the AppHost at once with what is wrong
    /// instead of leaving each service to fail its own way. Messages name the option or endpoint, never the string,
    /// which holds the password.
    /// </summary>
    public static ExternalRedis Parse(string? connectionString)
    {
        const string Name = "ConnectionStrings:redis";
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException($"{Name} is empty.");
        }

        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            throw new InvalidOperationException(
                $"{Name} is not a StackExchange.Redis configuration string ({ex.Message}). Write 'host:port,password=…' for " +
                "one server, or 'sentinel1:26379,sentinel2:26379,sentinel3:26379,serviceName=<master name>,password=…' for Redis Sentinel.");
        }

        var endpoints = options.EndPoints.Select(EndPointCollection.ToString).ToList();
        if (endpoints.Count == 0)
        {
            throw new InvalidOperationException(
                $"{Name} names no server: give 'host:port' (or, with serviceName=, the Sentinels' 'host:26379', comma-separated).");
        }

        if (options.ServiceName is { } serviceName && string.IsNullOrWhiteSpace(serviceName))
        {
            throw new InvalidOperationException($"{Name} has an empty serviceName: give the master name the Sentinels monitor.");
        }

        return new ExternalRedis(string.IsNullOrEmpty(options.ServiceName) ? null : options.ServiceName, endpoints);
    }
}
