using System.Runtime.Versioning;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Keys.AppHost.Infrastructure;

[UnsupportedOSPlatform("windows")]
public static class LocalPostgresExtensions
{
    /// <summary>The user the Debian package creates: the server's superuser, and who it runs as when the AppHost is root.</summary>
    public const string ServerUser = "postgres";

    /// <summary>
    /// The <c>postgres</c> server from <paramref name="binDirectory"/>, its data under <paramref name="dataDirectory"/>,
    /// and the connection string to <paramref name="database"/> as its owner, <see cref="LocalPostgresDatabase.OwnerRole"/>.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddLocalPostgres(
        this IDistributedApplicationBuilder builder, string database, string dataDirectory, string binDirectory)
    {
        var pgData = Path.Combine(dataDirectory, "postgres");
        var password = builder.AddParameter(
            "postgres-password", LocalSecrets.GetOrCreate(Path.Combine(dataDirectory, "postgres-password")), secret: true);
        // KeyAdmin's own role, the owner of the database; the superuser's password stays with the AppHost and postgres-init.
        var ownerPasswordValue = LocalSecrets.GetOrCreate(Path.Combine(dataDirectory, $"{database}-password"));
        var ownerPassword = builder.AddParameter($"{database}-password", ownerPasswordValue, secret: true);

        // postgres and initdb refuse to run as root: as root they run as the postgres user the Debian package created.
        var runAs = Environment.IsPrivilegedProcess ? ServerUser : "";

        var init = builder.AddExecutable("postgres-init", "/bin/bash", dataDirectory, InitScriptPath())
            .WithEnvironment("PGBIN", binDirectory)
            .WithEnvironment("PGDATA", pgData)
            .WithEnvironment("PGPASSWORD", password)
            .WithEnvironment("KEYS_RUN_AS", runAs);

        var postgresBinary = Path.Combine(binDirectory, "postgres");
        string[] serverArgs = ["-D", pgData, "-k", "", "-c", "listen_addresses=localhost"];
        var server = (runAs.Length > 0
                ? builder.AddExecutable("postgres", "setpriv", dataDirectory,
                    [$"--reuid={ServerUser}", $"--regid={ServerUser}", "--init-groups", "--", postgresBinary, .. serverArgs])
                : builder.AddExecutable("postgres", postgresBinary, dataDirectory, serverArgs))
            .WithEndpoint(name: "tcp", scheme: "tcp", env: "PGPORT")
            .WaitForCompletion(init);

        var endpoint = server.GetEndpoint("tcp");
        ReferenceExpression ConnectionString(string databaseName, string user, IResourceBuilder<ParameterResource> userPassword) => ReferenceExpression.Create(
            $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Username={user};Password={userPassword};Database={databaseName}");
        var superuser = ConnectionString("postgres", ServerUser, password);
        var owner = ConnectionString(database, LocalPostgresDatabase.OwnerRole, ownerPassword);

        var serverHealthKey = "postgres-accepts-logins";
        builder.Services.AddHealthChecks().AddAsyncCheck(serverHealthKey, ct => CanQueryAsync(superuser, ct));
        server.WithHealthCheck(serverHealthKey);

        // Like Aspire's own Postgres integration: the database (and here its owner) is made once the server is ready.
        var prepared = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        builder.Eventing.Subscribe<ResourceReadyEvent>(server.Resource, async (_, ct) =>
        {
            await LocalPostgresDatabase.PrepareAsync((await superuser.GetValueAsync(ct))!, database, ownerPasswordValue, ct);
            prepared.TrySetResult();
        });

        // Not before the owner role exists: each early try would be a failed login in Postgres's log.
        var databaseHealthKey = $"{database}-accepts-logins";
        builder.Services.AddHealthChecks().AddAsyncCheck(databaseHealthKey, ct => prepared.Task.IsCompleted
            ? CanQueryAsync(owner, ct)
            : Task.FromResult(HealthCheckResult.Unhealthy($"{database} and its owner are being prepared.")));
        return builder.AddConnectionString(database, owner)
            .WithParentRelationship(server)
            .WithHealthCheck(databaseHealthKey);
    }

    // The build copies the script beside the AppHost's assembly, and from there into the output of every project that
    // references the AppHost: the functional tests and the benchmarks run the AppHost from their own output directory.
    private static string InitScriptPath()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Infrastructure", "Scripts", "postgres-init.sh");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The PostgreSQL init script is missing from {AppContext.BaseDirectory}: rebuild the AppHost.", path);
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
}
