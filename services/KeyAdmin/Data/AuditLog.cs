using Keys.KeyAdmin.Access;
using Npgsql;
using NpgsqlTypes;

namespace Keys.KeyAdmin.Data;

public sealed record AuditRow(
    long Id,
    string Action,
    string ActorId,
    string Actor,
    string? ProjectId,
    string? Environment,
    string? KeyId,
    string? KeyName,
    string? OperatorId,
    string? OperatorName,
    string? Detail,
    DateTime OccurredAt);

/// <summary>What was done, and what it was done to: a project, an environment, a key or an operator.</summary>
public sealed record AuditEntry(
    string Action,
    string? ProjectId = null,
    string? Environment = null,
    string? KeyId = null,
    string? KeyName = null,
    string? OperatorId = null,
    string? OperatorName = null,
    string? Detail = null)
{
    public static AuditEntry ForKey(string action, KeyRow key) => new(action, key.ProjectId, key.Environment, key.Id, key.Name);

    public static AuditEntry ForOperator(string action, OperatorRow row) => new(action, OperatorId: row.Id, OperatorName: row.Name);

}

/// <summary>
/// What was done and by whom. Events are written in the transaction of the change they record, so there is no change
/// without its event and no event without its change.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource dataSource)
{
    public static async Task AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, AuditEntry entry, Caller actor, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO audit_event (action, actor_id, actor, project_id, environment, key_id, key_name, operator_id, operator_name, detail)
            VALUES (@action, @actorId, @actor, @project, @environment, @key, @keyName, @operator, @operatorName, @detail)
            """, connection, transaction);
        command.Parameters.AddWithValue("action", entry.Action);
        command.Parameters.AddWithValue("actorId", actor.Id);
        command.Parameters.AddWithValue("actor", actor.Name);
        command.Parameters.AddWithValue("project", NpgsqlDbType.Text, (object?)entry.ProjectId ?? DBNull.Value);
        command.Parameters.AddWithValue("environment", NpgsqlDbType.Text, (object?)entry.Environment ?? DBNull.Value);
        command.Parameters.AddWithValue("key", NpgsqlDbType.Text, (object?)entry.KeyId ?? DBNull.Value);
        command.Parameters.AddWithValue("keyName", NpgsqlDbType.Text, (object?)entry.KeyName ?? DBNull.Value);
        command.Parameters.AddWithValue("operator", NpgsqlDbType.Text, (object?)entry.OperatorId ?? DBNull.Value);
        command.Parameters.AddWithValue("operatorName", NpgsqlDbType.Text, (object?)entry.OperatorName ?? DBNull.Value);
        command.Parameters.AddWithValue("detail", NpgsqlDbType.Text, (object?)entry.Detail ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>An event about no project: written in a transaction of its own.</summary>
    public async Task AppendAsync(AuditEntry entry, Caller actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await AppendAsync(connection, transaction, entry, actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// A page of events, newest first, older than <paramref name="beforeId"/> when given: one project's, or (null)
    /// everyone's, operators' included. Keyset by id, the order events were written in; the next page starts below
    /// the returned id (null on the last page).
    /// </summary>
    public async Task<(IReadOnlyList<AuditRow> Events, long? Next)> ListAsync(
        string? projectId, long? beforeId, int pageSize, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT id, action, actor_id, actor, project_id, environment, key_id, key_name, operator_id, operator_name, detail, occurred_at
            FROM audit_event
            WHERE (@project::text IS NULL OR project_id = @project) AND (@before::bigint IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @take
            """);
        command.Parameters.AddWithValue("project", NpgsqlDbType.Text, (object?)projectId ?? DBNull.Value);
        command.Parameters.AddWithValue("before", NpgsqlDbType.Bigint, (object?)beforeId ?? DBNull.Value);
        command.Parameters.AddWithValue("take", pageSize + 1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var events = new List<AuditRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new AuditRow(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                NullableString(reader, 4), NullableString(reader, 5), NullableString(reader, 6), NullableString(reader, 7),
                NullableString(reader, 8), NullableString(reader, 9), NullableString(reader, 10), reader.GetDateTime(11)));
        }

        if (events.Count <= pageSize)
        {
            return (events, null);
        }

        events.RemoveAt(pageSize);
        return (events, events[^1].Id);
    }

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
