using System.Runtime.Versioning;

namespace Keys.AppHost.Infrastructure;

public sealed record KeysInfrastructure(
    InfrastructureMode Mode,
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Redis);

public static class KeysInfrastructureExtensions
{
    public const string DatabaseName = "keysdb";

    public const string RedisName = "redis";

    /// <summary>Adds Postgres (database <c>keysdb</c>) and Redis from wherever this machine can provide them.</summary>
    public static KeysInfrastructure AddKeysInfrastructure(this IDistributedApplicationBuilder builder, KeysSettings settings)
    {
        var probe = InfrastructureProbe.Of(builder.Configuration);
        var mode = InfrastructureSelector.Choose(builder.Configuration[InfrastructureSelector.ConfigKey], probe);
        return mode switch
        {
            InfrastructureMode.External => new KeysInfrastructure(
                mode, builder.AddConnectionString(DatabaseName), builder.AddConnectionString(RedisName)),
            InfrastructureMode.Containers => new KeysInfrastructure(
                mode,
                builder.AddPostgres("postgres").WithDataVolume("keys-postgres-data").AddDatabase(DatabaseName),
                builder.AddRedis(RedisName)),
            _ when OperatingSystem.IsWindows() => throw new PlatformNotSupportedException("Local infrastructure runs the Debian server binaries; on Windows use containers or external servers."),
            _ => builder.AddLocalInfrastructure(settings.DataDirectory, probe.FindLocalBinaries()!),
        };
    }

    [UnsupportedOSPlatform("windows")]
    private static KeysInfrastructure AddLocalInfrastructure(this IDistributedApplicationBuilder builder, string dataDirectory, LocalBinaries binaries)
    {
        LocalDataDirectory.Prepare(dataDirectory);
        return new KeysInfrastructure(
            InfrastructureMode.Local,
            builder.AddLocalPostgres(DatabaseName, dataDirectory, binaries.PostgresBinDirectory),
            builder.AddLocalRedis(RedisName, dataDirectory, binaries.RedisServer));
    }
}
