using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Npgsql;
using NpgsqlTypes;

namespace Keys.KeyAdmin.Data;

public sealed record EnvironmentRow(string Name, DateTime CreatedAt);

public sealed record ProjectRow(
    string Id,
    string Name,
    DateTime CreatedAt,
    IReadOnlyList<EnvironmentRow> Environments,
    RateLimitSetting? DefaultRateLimit = null,
    int? MaxSecretKeyLifetimeDays = null);

/// <summary>Projects and their environments, which keys, audit events and their checks hang from.</summary>
public sealed partial class ProjectStore(NpgsqlDataSource dataSource, Outbox outbox)
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

        var project = (await ReadProjectsAsync(connection, transaction, [id], cancellationToken)).Single();
        await AuditLog.AppendAsync(connection, transaction, new AuditEntry("project.created", ProjectId: id), actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return project;
    }

    /// <summary>
    /// A page of the projects, newest first, after <paramref name="after"/> (every project, or only those of
    /// <paramref name="only"/> when it names any), and where the next page starts (null on the last).
    /// </summary>
    public async Task<(IReadOnlyList<ProjectRow> Projects, PageCursor? Next)> ListProjectsAsync(
        IReadOnlyList<string> only, PageCursor? after, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var ids = new List<string>();
        await using (var command = new NpgsqlCommand(
            $"""
            SELECT id FROM project
            WHERE (cardinality(@only) = 0 OR id = ANY(@only)){(after is null ? "" : " AND (created_at, id) < (@afterAt, @afterId)")}
            ORDER BY created_at DESC, id DESC LIMIT @take
            """, connection))
        {
            command.Parameters.AddWithValue("only", only.ToArray());
            command.Parameters.AddWithValue("take", pageSize + 1);
            if (after is not null)
            {
                command.Parameters.AddWithValue("afterAt", NpgsqlDbType.TimestampTz, after.CreatedAt);
                command.Parameters.AddWithValue("afterId", after.Id);
            }

            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }
        }

        var more = ids.Count > pageSize;
        var page = (await ReadProjectsAsync(connection, null, ids.Take(pageSize).ToArray(), cancellationToken)).ToList();
        return (page, more ? new PageCursor(page[^1].CreatedAt, page[^1].Id) : null);
    }

    public async Task<ProjectRow> GetProjectAsync(string projectId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await ReadProjectsAsync(connection, null, [projectId], cancellationToken)).SingleOrDefault()
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

    /// <summary>
    /// Changes the fields of <paramref name="changes"/>, with its audit event, in one transaction. A new default rate
    /// limit applies to every key without a limit of its own, so those are invalidated in the same transaction: each
    /// on its own, or past <c>KeyAdmin:ProjectInvalidationKeyLimit</c> of them, the whole project at once
    /// (<see cref="Outbox.AppendForProjectDefaultAsync"/>).
    /// </summary>
    public async Task<ProjectRow> UpdateProjectAsync(string projectId, ProjectChanges changes, Caller actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Locked: concurrent updates of one project serialize, and a key created meanwhile reads the policy after it.
        await using (var command = new NpgsqlCommand("SELECT 1 FROM project WHERE id = @id FOR UPDATE", connection, transaction))
        {
            command.Parameters.AddWithValue("id", projectId);
            if (await command.ExecuteScalarAsync(cancellationToken) is null)
            {
                throw KeyAdminException.ProjectNotFound(projectId);
            }
        }

        var before = (await ReadProjectsAsync(connection, transaction, [projectId], cancellationToken)).Single();
        await using (var command = new NpgsqlCommand { Connection = connection, Transaction = transaction })
        {
            var assignments = new List<string>();
            foreach (var field in changes.Fields)
            {
                switch (field)
                {
                    case ProjectField.Name:
                        assignments.Add("name = @name");
                        command.Parameters.AddWithValue("name", changes.Name);
                        break;
                    case ProjectField.DefaultRateLimit:
                        assignments.Add("default_rate_limit = @limit, default_rate_limit_window = @window, default_rate_limit_mode = @mode");
                        var limit = changes.DefaultRateLimit;
                        command.Parameters.AddWithValue("limit", NpgsqlDbType.Bigint, limit is null ? DBNull.Value : limit.Limit);
                        command.Parameters.AddWithValue("window", NpgsqlDbType.Integer, limit is null ? DBNull.Value : limit.WindowSeconds);
                        command.Parameters.AddWithValue("mode", NpgsqlDbType.Text, limit is null ? DBNull.Value : limit.Mode);
                        break;
                    case ProjectField.MaxSecretKeyLifetimeDays:
                        assignments.Add("max_secret_key_lifetime_days = @lifetime");
                        command.Parameters.AddWithValue(
                            "lifetime", NpgsqlDbType.Integer, changes.MaxSecretKeyLifetimeDays is { } days ? days : DBNull.Value);
                        break;
                    default:
                        throw new ArgumentOutOfRangeException(nameof(changes), field, "A project field with no column.");
                }
            }

            command.CommandText = $"UPDATE project SET {string.Join(", ", assignments)} WHERE id = @id";
            command.Parameters.AddWithValue("id", projectId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var after = (await ReadProjectsAsync(connection, transaction, [projectId], cancellationToken)).Single();
        var changed = new List<(string, JsonNode?, JsonNode?)>();
        if (before.Name != after.Name)
        {
            changed.Add(("name", before.Name, after.Name));
        }

        var defaultChanged = before.DefaultRateLimit != after.DefaultRateLimit;
        if (defaultChanged)
        {
            changed.Add(("defaultRateLimit", KeyDiff.ToJson(before.DefaultRateLimit), KeyDiff.ToJson(after.DefaultRateLimit)));
        }

        if (before.MaxSecretKeyLifetimeDays != after.MaxSecretKeyLifetimeDays)
        {
            changed.Add(("maxSecretKeyLifetimeDays", before.MaxSecretKeyLifetimeDays, after.MaxSecretKeyLifetimeDays));
        }

        if (changed.Count == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            return before;
        }

        await AuditLog.AppendAsync(
            connection, transaction, new AuditEntry("project.updated", projectId, Detail: KeyDiff.Detail(changed)), actor, cancellationToken);
        if (defaultChanged)
        {
            await outbox.AppendForProjectDefaultAsync(connection, transaction, projectId, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return after;
    }

    /// <summary>The projects of <paramref name="ids"/> with their environments, newest first.</summary>
    private static async Task<IReadOnlyList<ProjectRow>> ReadProjectsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string[] ids, CancellationToken cancellationToken)
    {
        if (ids.Length == 0)
        {
            return [];
        }

        await using var command = new NpgsqlCommand(
            """
            SELECT p.id, p.name, p.created_at, e.name, e.created_at,
                   p.default_rate_limit, p.default_rate_limit_window, p.default_rate_limit_mode, p.max_secret_key_lifetime_days
            FROM project p JOIN environment e ON e.project_id = p.id
            WHERE p.id = ANY(@ids)
            ORDER BY p.created_at DESC, p.id DESC, e.created_at, e.name
            """, connection, transaction);
        command.Parameters.AddWithValue("ids", ids);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var projects = new List<ProjectRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetString(0);
            if (projects.Count == 0 || projects[^1].Id != id)
            {
                projects.Add(new ProjectRow(
                    id, reader.GetString(1), reader.GetDateTime(2), new List<EnvironmentRow>(),
                    KeyStore.ReadRateLimit(reader, 5), reader.IsDBNull(8) ? null : reader.GetInt32(8)));
            }

            ((List<EnvironmentRow>)projects[^1].Environments).Add(new EnvironmentRow(reader.GetString(3), reader.GetDateTime(4)));
        }

        return projects;
    }

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,31}\z")]
    private static partial Regex EnvironmentNamePattern();
}
