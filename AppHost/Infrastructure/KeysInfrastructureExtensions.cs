using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Keys.AppHost.Infrastructure;

public sealed record KeysInfrastructure(
    InfrastructureMode Mode,
    IResourceBuilder<IResourceWithConnectionString> Database,
    IResourceBuilder<IResourceWithConnectionString> Redis);

public static class KeysInfrastructureExtensions
{
    public const string DatabaseName = "keysdb";

    /// <summary>Adds Postgres (database <c>keysdb</c>) and Redis from wherever this machine can provide them.</summary>
    public static KeysInfrastructure AddKeysInfrastructure(this IDistributedApplicationBuilder builder, KeysSettings settings)
    {
        var configuration = builder.Configuration;
        var probe = new InfrastructureProbe(
            ExternalConnectionStringsConfigured:
                !string.IsNullOrWhiteSpace(configuration.GetConnectionString(DatabaseName))
                && !string.IsNullOrWhiteSpace(configuration.GetConnectionString("redis")),
            ContainerRuntimeAnswers: ContainerRuntime.Answers,
            FindLocalBinaries: () => LocalBinaries.Find(
                configuration[LocalBinaries.PostgresBinConfigKey], configuration[LocalBinaries.RedisServerConfigKey]));

        var mode = InfrastructureSelector.Choose(configuration[InfrastructureSelector.ConfigKey], probe);
        return mode switch
        {
            InfrastructureMode.External => new KeysInfrastructure(
                mode, builder.AddConnectionString(DatabaseName), builder.AddConnectionString("redis")),
            InfrastructureMode.Containers => new KeysInfrastructure(
                mode,
                builder.AddPostgres("postgres").WithDataVolume("keys-postgres-data").AddDatabase(DatabaseName),
                builder.AddRedis("redis")),
            _ when OperatingSystem.IsWindows() => throw new PlatformNotSupportedException("Local infrastructure runs the Debian server binaries; on Windows use containers or external servers."),
            _ => builder.AddLocalInfrastructure(settings, probe.FindLocalBinaries()!),
        };
    }

    [UnsupportedOSPlatform("windows")]
    private static KeysInfrastructure AddLocalInfrastructure(this IDistributedApplicationBuilder builder, KeysSettings settings, LocalBinaries binaries)
    {
        PrepareDataDirectory(settings.DataDirectory);
        return new KeysInfrastructure(
            InfrastructureMode.Local,
            builder.AddLocalPostgres(settings.DataDirectory, binaries.PostgresBinDirectory),
            builder.AddLocalRedis(settings.DataDirectory, binaries.RedisServer));
    }

    /// <summary>
    /// The data directory holds every secret of a local run: 0700, its owner's only. As root, Postgres runs as the
    /// unprivileged postgres user, which must still get through to its own data directory inside: root:postgres 0710
    /// lets the postgres group pass through (not list, not read, not write) and keeps every other user out.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    public static void PrepareDataDirectory(string dataDirectory)
    {
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(dataDirectory, ownerOnly);
        // Closed first, so that an older, wider directory is never open to the postgres group beyond passing through.
        File.SetUnixFileMode(dataDirectory, ownerOnly);
        if (Environment.IsPrivilegedProcess)
        {
            SetGroup(dataDirectory, PostgresUser);
            File.SetUnixFileMode(dataDirectory, ownerOnly | UnixFileMode.GroupExecute);
        }
    }

    private const string PostgresUser = "postgres";

    // No .NET API sets a file's group by name; chgrp asks the system's user database, as setpriv does for the server.
    private static void SetGroup(string path, string group)
    {
        using var chgrp = Process.Start(new ProcessStartInfo("chgrp", [group, path]) { RedirectStandardError = true })
            ?? throw new InvalidOperationException("chgrp could not be started.");
        var error = chgrp.StandardError.ReadToEnd();
        chgrp.WaitForExit();
        if (chgrp.ExitCode != 0)
        {
            throw new InvalidOperationException($"The data directory {path} could not be given to the group '{group}': {error.Trim()}");
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static IResourceBuilder<IResourceWithConnectionString> AddLocalPostgres(
        this IDistributedApplicationBuilder builder, string dataDirectory, string binDirectory)
    {
        var pgData = Path.Combine(dataDirectory, "postgres");
        var password = builder.AddParameter(
            "postgres-password", LocalSecrets.GetOrCreate(Path.Combine(dataDirectory, "postgres-password")), secret: true);
        // KeyAdmin's own role, the owner of keysdb; the superuser's password stays with the AppHost and postgres-init.
        var ownerPasswordValue = LocalSecrets.GetOrCreate(Path.Combine(dataDirectory, "keysdb-password"));
        var ownerPassword = builder.AddParameter("keysdb-password", ownerPasswordValue, secret: true);

        // postgres and initdb refuse to run as root: as root they run as the postgres user the Debian package created.
        var runAs = Environment.IsPrivilegedProcess ? PostgresUser : "";

        var init = builder.AddExecutable("postgres-init", "/bin/bash", dataDirectory, "-c", PostgresInitScript)
            .WithEnvironment("PGBIN", binDirectory)
            .WithEnvironment("PGDATA", pgData)
            .WithEnvironment("PGPASSWORD", password)
            .WithEnvironment("KEYS_RUN_AS", runAs);

        var postgresBinary = Path.Combine(binDirectory, "postgres");
        string[] serverArgs = ["-D", pgData, "-k", "", "-c", "listen_addresses=localhost"];
        var server = (runAs.Length > 0
                ? builder.AddExecutable("postgres", "setpriv", dataDirectory,
                    ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", postgresBinary, .. serverArgs])
                : builder.AddExecutable("postgres", postgresBinary, dataDirectory, serverArgs))
            .WithEndpoint(name: "tcp", scheme: "tcp", env: "PGPORT")
            .WaitForCompletion(init);

        var endpoint = server.GetEndpoint("tcp");
        ReferenceExpression ConnectionString(string database, string user, IResourceBuilder<ParameterResource> userPassword) => ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Username={user};Password={userPassword};Database={database}");
        var superuser = ConnectionString("postgres", PostgresUser, password);
        var owner = ConnectionString(DatabaseName, LocalPostgresDatabase.OwnerRole, ownerPassword);

        var serverHealthKey = "postgres-accepts-logins";
        builder.Services.AddHealthChecks().AddAsyncCheck(serverHealthKey, ct => CanQueryAsync(superuser, ct));
        server.WithHealthCheck(serverHealthKey);

        // Like Aspire's own Postgres integration: the database (and here its owner) is made once the server is ready.
        var prepared = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        builder.Eventing.Subscribe<ResourceReadyEvent>(server.Resource, async (_, ct) =>
        {
            await LocalPostgresDatabase.PrepareAsync((await superuser.GetValueAsync(ct))!, DatabaseName, ownerPasswordValue, ct);
            prepared.TrySetResult();
        });

        // Not before the owner role exists: each early try would be a failed login in Postgres's log.
        var databaseHealthKey = $"{DatabaseName}-accepts-logins";
        builder.Services.AddHealthChecks().AddAsyncCheck(databaseHealthKey, ct => prepared.Task.IsCompleted
            ? CanQueryAsync(owner, ct)
            : Task.FromResult(HealthCheckResult.Unhealthy($"{DatabaseName} and its owner are being prepared.")));
        return builder.AddConnectionString(DatabaseName, owner)
            .WithParentRelationship(server)
            .WithHealthCheck(databaseHealthKey);
    }

    [UnsupportedOSPlatform("windows")]
    private static IResourceBuilder<IResourceWithConnectionString> AddLocalRedis(
        this IDistributedApplicationBuilder builder, string dataDirectory, string redisServer)
    {
        var passwordValue = LocalSecrets.GetOrCreate(Path.Combine(dataDirectory, "redis-password"));
        var password = builder.AddParameter("redis-password", passwordValue, secret: true);

        // The password goes in a file only root can read, not on the command line where every process can see it.
        var configPath = Path.Combine(dataDirectory, "redis.conf");
        LocalSecrets.WriteAtomically(configPath, $"""
            bind 127.0.0.1 ::1
            requirepass {passwordValue}
            save ""
            appendonly no
            """);

        var redis = builder.AddResource(new LocalRedisResource("redis", redisServer, dataDirectory, password.Resource))
            .WithEndpoint(name: LocalRedisResource.EndpointName, scheme: "tcp");
        var endpoint = redis.Resource.Endpoint;
        redis.WithArgs(context =>
        {
            context.Args.Add(configPath);
            context.Args.Add("--port");
            context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
        });

        var healthKey = "redis-answers-ping";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthKey, ct => RedisPingAsync(endpoint, passwordValue, ct));
        return redis.WithHealthCheck(healthKey);
    }

    private static async Task<HealthCheckResult> CanQueryAsync(ReferenceExpression connectionString, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(await connectionString.GetValueAsync(cancellationToken))
        {
            Pooling = false,
            Timeout = 5,
        };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.ExecuteScalarAsync(cancellationToken);
        return HealthCheckResult.Healthy();
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

    private const string PostgresInitScript = """
        set -euo pipefail
        if [ -s "$PGDATA/PG_VERSION" ]; then
          echo "PostgreSQL data directory $PGDATA is initialized."
          exit 0
        fi
        as_owner() { if [ -n "$KEYS_RUN_AS" ]; then setpriv --reuid="$KEYS_RUN_AS" --regid="$KEYS_RUN_AS" --init-groups -- "$@"; else "$@"; fi; }
        staging="$PGDATA.init"
        pwfile="$PGDATA.pwfile"
        trap 'rm -rf "$staging" "$pwfile"' EXIT
        rm -rf "$staging"
        mkdir -m 700 "$staging"
        (umask 077; printf '%s' "$PGPASSWORD" > "$pwfile")
        if [ -n "$KEYS_RUN_AS" ]; then chown "$KEYS_RUN_AS:" "$staging" "$pwfile"; fi
        as_owner "$PGBIN/initdb" -D "$staging" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 --encoding=UTF8 --no-locale >/dev/null
        # Initialize aside, then move into place: an interrupted init never leaves a half-made data directory behind.
        mv "$staging" "$PGDATA"
        echo "Initialized PostgreSQL data directory $PGDATA."
        """;
}
