using Npgsql;

namespace Keys.KeyAdmin.Data;

public sealed record AuditRow(long Id, string Action, string KeyId, string KeyName, string Environment, string Actor, DateTime OccurredAt);

/// <summary>What was done to a project's keys, by whom. Events are written in the transaction of the change they record.</summary>
public sealed class AuditLog(NpgsqlDataSource dataSource, ProjectStore projects)
{
    public async Task AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, KeyRow key, string action, string actor, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO audit_event (project_id, environment, action, key_id, key_name, actor)
            VALUES (@project, @environment, @action, @key, @name, @actor)
            """, connection, transaction);
        command.Parameters.AddWithValue("project", key.ProjectId);
        command.Parameters.AddWithValue("environment", key.Environment);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.AddWithValue("key", key.Id);
        command.Parameters.AddWithValue("name", key.Name);
        command.Parameters.AddWithValue("actor", actor);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The project's latest events, newest first.</summary>
    public async Task<IReadOnlyList<AuditRow>> ListAsync(string projectId, int limit, CancellationToken cancellationToken)
    {
        await projects.RequireProjectAsync(projectId, cancellationToken);
        await using var command = dataSource.CreateCommand(
            """
            SELECT id, action, key_id, key_name, environment, actor, occurred_at FROM audit_event
            WHERE project_id = @project ORDER BY id DESC LIMIT @limit
            """);
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<AuditRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new AuditRow(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.GetDateTime(6)));
        }

        return events;
    }
}
