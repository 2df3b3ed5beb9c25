using Microsoft.Extensions.Configuration;

namespace Keys.AppHost.Infrastructure;

/// <summary>Where Postgres and Redis come from.</summary>
public enum InfrastructureMode
{
    /// <summary>The Debian <c>postgres</c> and <c>redis-server</c> binaries, started by the AppHost as executables.</summary>
    Local,

    /// <summary>The standard Aspire Postgres and Redis containers.</summary>
    Containers,

    /// <summary>Servers that already run elsewhere, given as <c>ConnectionStrings:keysdb</c> and <c>ConnectionStrings:redis</c>.</summary>
    External,
}

/// <summary>
/// Which of Postgres and Redis are servers that already run elsewhere, by their connection strings. Each one configured
/// is used whatever the mode, which then provides only the other (say, a Redis Sentinel with a local Postgres).
/// </summary>
public sealed record ExternalServers(bool Database, bool Redis)
{
    public static ExternalServers Of(IConfiguration configuration) => new(
        !string.IsNullOrWhiteSpace(configuration.GetConnectionString(KeysInfrastructureExtensions.DatabaseName)),
        !string.IsNullOrWhiteSpace(configuration.GetConnectionString(KeysInfrastructureExtensions.RedisName)));
}

/// <summary>What the machine offers; each probe runs only when the choice needs it.</summary>
public sealed record InfrastructureProbe(
    bool ExternalConnectionStringsConfigured,
    Func<bool> ContainerRuntimeAnswers,
    Func<LocalBinaries?> FindLocalBinaries)
{
    /// <summary>This machine, with the connection strings and binary locations that configuration gives.</summary>
    public static InfrastructureProbe Of(IConfiguration configuration) => new(
        ExternalConnectionStringsConfigured:
            !string.IsNullOrWhiteSpace(configuration.GetConnectionString(KeysInfrastructureExtensions.DatabaseName))
            && !string.IsNullOrWhiteSpace(configuration.GetConnectionString(KeysInfrastructureExtensions.RedisName)),
        ContainerRuntimeAnswers: ContainerRuntime.Answers,
        FindLocalBinaries: () => LocalBinaries.Find(
            configuration[LocalBinaries.PostgresBinConfigKey], configuration[LocalBinaries.RedisServerConfigKey]));
}

public static class InfrastructureSelector
{
    public const string ConfigKey = "Keys:Infrastructure";

    public const string NothingUsableMessage =
        "Keys needs PostgreSQL and Redis, and none could be found: no ConnectionStrings:keysdb and ConnectionStrings:redis " +
        "are configured, no container runtime answers, and the local binaries are missing. Install them with " +
        "'apt-get install -y postgresql redis-server' (or run ./keys run, which does), start Docker or Podman, or set both connection strings.";

    /// <summary>
    /// An explicit <c>Keys:Infrastructure</c> wins. Otherwise: external when both connection strings are configured,
    /// containers when a container runtime answers, local when the binaries are installed; else fail with what to install.
    /// </summary>
    public static InfrastructureMode Choose(string? configured, InfrastructureProbe probe)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (!Enum.TryParse<InfrastructureMode>(configured, ignoreCase: true, out var mode) || !Enum.IsDefined(mode))
            {
                throw new InvalidOperationException($"{ConfigKey} is '{configured}'; use 'local', 'containers' or 'external'.");
            }

            if (mode == InfrastructureMode.External && !probe.ExternalConnectionStringsConfigured)
            {
                throw new InvalidOperationException(
                    $"{ConfigKey} is 'external' but ConnectionStrings:keysdb and ConnectionStrings:redis are not both set.");
            }

            if (mode == InfrastructureMode.Local && probe.FindLocalBinaries() is null)
            {
                throw new InvalidOperationException(
                    $"{ConfigKey} is 'local' but the PostgreSQL or Redis server binaries are missing. Install them with 'apt-get install -y postgresql redis-server'.");
            }

            return mode;
        }

        if (probe.ExternalConnectionStringsConfigured)
        {
            return InfrastructureMode.External;
        }

        if (probe.ContainerRuntimeAnswers())
        {
            return InfrastructureMode.Containers;
        }

        if (probe.FindLocalBinaries() is not null)
        {
            return InfrastructureMode.Local;
        }

        throw new InvalidOperationException(NothingUsableMessage);
    }
}
