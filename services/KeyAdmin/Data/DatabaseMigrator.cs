using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Keys.KeyAdmin.Data;

/// <summary>
/// Applies the versioned SQL scripts embedded under <c>Data/Migrations</c> (<c>NNNN_name.sql</c>), each once and in
/// order, at start-up. Replicas serialize on an advisory lock, so two starting together apply each script once.
/// The scripts run with KeyAdmin's own connection: with the AppHost's local Postgres that is the role owning the
/// database and its schema <c>public</c>, not a superuser, so a script may make and change tables, indexes and
/// sequences there, but not extensions, roles or other databases.
/// </summary>
public sealed partial class DatabaseMigrator(NpgsqlDataSource dataSource, ILogger<DatabaseMigrator> logger) : BackgroundService
{
    // Any constant no other lock uses (Outbox holds two): it names the lock that KeyAdmin replicas share for migrations.
    private const long AdvisoryLockId = 0x4B657973_4D696772;

    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsCompleted => _completed.Task.IsCompletedSuccessfully;

    public Task Completion => _completed.Task;

    public static IReadOnlyList<(int Version, string Name, string Sql)> LoadScripts()
    {
        var assembly = typeof(DatabaseMigrator).Assembly;
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            // Embedded names look like Keys.KeyAdmin.Data.Migrations.0001_initial.sql
            var fileName = resource[(resource.IndexOf(".Migrations.", StringComparison.Ordinal) + ".Migrations.".Length)..];
            var version = int.Parse(fileName.AsSpan(0, fileName.IndexOf('_')), System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            scripts.Add((version, fileName, reader.ReadToEnd()));
        }

        scripts.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return scripts;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var attempt = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await MigrateAsync(stoppingToken);
                _completed.TrySetResult();
                return;
            }
            // Whatever it is, a failed attempt is retried: a migrator that threw out of here would stop the host.
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                attempt++;
                LogRetry(attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 5)), stoppingToken);
            }
        }
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@id)", connection, transaction))
        {
            command.Parameters.AddWithValue("id", AdvisoryLockId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var command = new NpgsqlCommand(
            """
            CREATE TABLE IF NOT EXISTS schema_migration (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var applied = new HashSet<int>();
        await using (var command = new NpgsqlCommand("SELECT version FROM schema_migration", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetInt32(0));
            }
        }

        foreach (var (version, name, sql) in LoadScripts().Where(s => !applied.Contains(s.Version)))
        {
            await using (var command = new NpgsqlCommand(sql, connection, transaction))
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var command = new NpgsqlCommand("INSERT INTO schema_migration (version, name) VALUES (@version, @name)", connection, transaction))
            {
                command.Parameters.AddWithValue("version", version);
                command.Parameters.AddWithValue("name", name);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            LogApplied(name);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied database migration {Name}")]
    private partial void LogApplied(string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database migrations failed (attempt {Attempt}), retrying: {Reason}")]
    private partial void LogRetry(int attempt, string reason);
}

/// <summary>KeyAdmin is not ready to serve until its schema is current.</summary>
public sealed class MigrationHealthCheck(DatabaseMigrator migrator) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(migrator.IsCompleted
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("Database migrations have not completed."));
}
