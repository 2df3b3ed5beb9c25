using Microsoft.Extensions.Configuration;

namespace Keys.AppHost.Infrastructure;

public sealed record KeysInfrastructure(
    InfrastructureMode Mode,
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Redis);

public static class KeysInfrastructureExtensions
{
    public const string DatabaseName = "keysdb";

    public const string RedisName = "redis";

    /// <summary>
    /// Adds Postgres (database <c>keysdb</c>) and Redis from wherever this machine can provide them. A configured
    /// connection string wins for its own server in every mode: <c>ConnectionStrings:redis</c> alone (a Redis Sentinel,
    /// a managed Redis) with the local or container Postgres, or <c>ConnectionStrings:keysdb</c> alone the other way.
    /// </summary>
    public static KeysInfrastructure AddKeysInfrastructure(this IDistributedApplicationBuilder builder, KeysSettings settings)
    {
        var probe = InfrastructureProbe.Of(builder.Configuration);
        var mode = InfrastructureSelector.Choose(builder.Configuration[InfrastructureSelector.ConfigKey], probe);
        var external = ExternalServers.Of(builder.Configuration);
        if (external.Redis)
        {
            // Refused here, with what is wrong, rather than by each service as it connects.
            ExternalRedis.Parse(builder.Configuration.GetConnectionString(RedisName));
        }

        if (mode == InfrastructureMode.Containers)
        {
            return new KeysInfrastructure(
                mode,
                external.Database ? builder.AddConnectionString(DatabaseName) : builder.AddPostgres("postgres").WithDataVolume("keys-postgres-data").AddDatabase(DatabaseName),
                external.Redis ? builder.AddConnectionString(RedisName) : builder.AddRedis(RedisName));
        }

        if (mode == InfrastructureMode.External || (external.Database && external.Redis))
        {
            return new KeysInfrastructure(mode, builder.AddConnectionString(DatabaseName), builder.AddConnectionString(RedisName));
        }

        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Local infrastructure runs the Debian server binaries; on Windows use containers or external servers.");
        }

        var binaries = probe.FindLocalBinaries()!;
        LocalDataDirectory.Prepare(settings.DataDirectory);
        return new KeysInfrastructure(
            mode,
            external.Database ? builder.AddConnectionString(DatabaseName) : builder.AddLocalPostgres(DatabaseName, settings.DataDirectory, binaries.PostgresBinDirectory),
            external.Redis ? builder.AddConnectionString(RedisName) : builder.AddLocalRedis(RedisName, settings.DataDirectory, binaries.RedisServer));
    }
}
