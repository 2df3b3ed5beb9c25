using System.Text.RegularExpressions;
using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Npgsql;
using NpgsqlTypes;

namespace Keys.KeyAdmin.Data;

public sealed record EnvironmentRow(string Name, DateTime CreatedAt);

public sealed record ProjectRow(string Id, string Name, DateTime CreatedAt, IReadOnlyList<EnvironmentRow> Environments);

/// <summary>Projects and their environments, which keys, audit events and their checks hang from.</summary>
public sealed partial class ProjectStore(NpgsqlDataSource dataSource)
{
    public static readonly string[] DefaultEnvironments = ["dev", "staging", "prod"];

    /// <summary>1 to 32 lowercase letters, digits and '-', starting with a letter or digit.</summary>
    public static bool IsEnvironmentName(string name) => EnvironmentNamePattern().IsMatch(name);

    public async Task<ProjectRow> CreateProjectAsync(string name, Caller actor, CancellationToken cancellationToken)
    {
        var id = ResourceId.NewProjectId();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await using (var command = new NpgsqlCommand("INSERT INTO project (id, name) VALUES (@id, @name)", connection, transaction))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("name", name);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        // Spaced by a microsecond so that they list in the order given: dev, staging, prod.
        await using (var command = new NpgsqlCommand(
            """
            INSERT INTO environment (project_id, name, created_at)
            SELECT @id, name, now() + make_interval(secs => ordinal / 1e6) FROM unnest(@names) WITH ORDINALITY AS t(name, ordinal)
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("names", DefaultEnvironments);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var project = (await ReadProjectsAsync(connection, transaction, id, cancellationToken)).Single();
        await AuditLog.AppendAsync(connection, transaction, new AuditEntry("project.created", ProjectId: id), actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return project;
    }

    /// <summary>Every project, or only those of <paramref name="only"/> when it names any.</summary>
    public async Task<IReadOnlyList<ProjectRow>> ListProjectsAsync(IReadOnlyList<string> only, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var projects = await ReadProjectsAsync(connection, null, null, cancellationToken);
        return only.Count == 0 ? projects : projects.Where(p => only.Contains(p.Id, StringComparer.Ordinal)).ToList();
    }

    public async Task<ProjectRow> GetProjectAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await ReadProjectsAsync(connection, null, projectId, cancellationToken)).SingleOrDefault()
            ?? throw KeyAdminException.ProjectNotFound(projectId);
    }

    public async Task<EnvironmentRow> CreateEnvironmentAsync(string projectId, string name, Caller actor, CancellationToken cancellationToken)
    {
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using var command = new NpgsqlCommand(
                """
                INSERT INTO environment (project_id, name)
                SELECT id, @name FROM project WHERE id = @project
                ON CONFLICT DO NOTHING
                RETURNING created_at
                """, connection, transaction);
            command.Parameters.AddWithValue("project", projectId);
            command.Parameters.AddWithValue("name", name);
            if (await command.ExecuteScalarAsync(cancellationToken) is DateTime createdAt)
            {
                await AuditLog.AppendAsync(
                    connection, transaction, new AuditEntry("environment.created", projectId, name), actor, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return new EnvironmentRow(name, createdAt);
            }
        }

        await RequireEnvironmentAsync(projectId, name, cancellationToken);
        throw KeyAdminException.EnvironmentExists(projectId, name);
    }

    /// <summary>Throws PROJECT_NOT_FOUND or ENVIRONMENT_NOT_FOUND unless both exist.</summary>
    public async Task RequireEnvironmentAsync(string projectId, string environment, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT EXISTS (SELECT 1 FROM project WHERE id = @project),
                   EXISTS (SELECT 1 FROM environment WHERE project_id = @project AND name = @environment)
            """);
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("environment", environment);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (!reader.GetBoolean(0))
        {
            throw KeyAdminException.ProjectNotFound(projectId);
        }

        if (!reader.GetBoolean(1))
        {
            throw KeyAdminException.EnvironmentNotFound(projectId, environment);
        }
    }

    public async Task RequireProjectAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM project WHERE id = @project)");
        command.Parameters.AddWithValue("project", projectId);
        if (await command.ExecuteScalarAsync(cancellationToken) is not true)
        {
            throw KeyAdminException.ProjectNotFound(projectId);
        }
    }

    private static async Task<IReadOnlyList<ProjectRow>> ReadProjectsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string? projectId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT p.id, p.name, p.created_at, e.name, e.created_at
            FROM project p JOIN environment e ON e.project_id = p.id
            WHERE @id::text IS NULL OR p.id = @id
            ORDER BY p.created_at DESC, p.id, e.created_at, e.name
            """, connection, transaction);
        command.Parameters.AddWithValue("id", NpgsqlDbType.Text, projectId is null ? DBNull.Value : projectId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var projects = new List<ProjectRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (projects.Count == 0 || projects[^1].Id != id)
            {
                projects.Add(new ProjectRow(id, reader.GetString(1), reader.GetDateTime(2), new List<EnvironmentRow>()));
            }

            ((List<EnvironmentRow>)projects[^1].Environments).Add(new EnvironmentRow(reader.GetString(3), reader.GetDateTime(4)));
        }

        return projects;
    }

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,31}\z")]
    private static partial Regex EnvironmentNamePattern();
}
