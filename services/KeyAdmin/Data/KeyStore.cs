using Keys.ApiKeys;
using Npgsql;
using NpgsqlTypes;

namespace Keys.KeyAdmin.Data;

public sealed record ProjectRow(string Id, string Name, DateTime CreatedAt, IReadOnlyList<string> Environments);

public sealed record KeyRow(
    string Id,
    string ProjectId,
    string Environment,
    string Name,
    ApiKeyType Type,
    string[] Scopes,
    string MaskedKey,
    string? PublishableValue,
    DateTime CreatedAt,
    DateTime? ExpiresAt,
    DateTime? LastUsedAt,
    DateTime? DeletedAt);

public sealed record NewKey(string ProjectId, string Environment, string Name, ApiKeyType Type, string[] Scopes, DateTime? ExpiresAt);

public enum EnvironmentLookup
{
    Found,
    ProjectNotFound,
    EnvironmentNotFound,
}

public enum DeleteOutcome
{
    Deleted,
    NotFound,
    NameMismatch,
}

public sealed class KeyNameTakenException(string name) : Exception($"A live key named '{name}' already exists in this environment.");

/// <summary>All of KeyAdmin's reads and writes of projects and keys. Only KeyAdmin writes keys.</summary>
public sealed class KeyStore(NpgsqlDataSource dataSource)
{
    public static readonly string[] DefaultEnvironments = ["dev", "staging", "prod"];

    private const string KeyColumns =
        "id, project_id, environment, name, type, scopes, masked_key, publishable_value, created_at, expires_at, last_used_at, deleted_at";

    public async Task<ProjectRow> CreateProjectAsync(string name, CancellationToken cancellationToken)
    {
        var id = ResourceId.NewProjectId();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        DateTime createdAt;
        await using (var command = new NpgsqlCommand("INSERT INTO project (id, name) VALUES (@id, @name) RETURNING created_at", connection, transaction))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("name", name);
            createdAt = (DateTime)(await command.ExecuteScalarAsync(cancellationToken))!;
        }

        await using (var command = new NpgsqlCommand("INSERT INTO environment (project_id, name) SELECT @id, unnest(@names)", connection, transaction))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("names", DefaultEnvironments);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return new ProjectRow(id, name, createdAt, DefaultEnvironments);
    }

    public async Task<EnvironmentLookup> FindEnvironmentAsync(string projectId, string environment, CancellationToken cancellationToken)
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
        return !reader.GetBoolean(0) ? EnvironmentLookup.ProjectNotFound
            : !reader.GetBoolean(1) ? EnvironmentLookup.EnvironmentNotFound
            : EnvironmentLookup.Found;
    }

    /// <summary>Creates the key and returns its row with the full value, which exists only in this call's result.</summary>
    public async Task<(KeyRow Row, string Value)> CreateKeyAsync(NewKey key, CancellationToken cancellationToken)
    {
        var value = KeyString.Generate(key.Type);
        await using var command = dataSource.CreateCommand(
            $"""
            INSERT INTO api_key (id, project_id, environment, name, type, scopes, key_hash, masked_key, publishable_value, expires_at)
            VALUES (@id, @project, @environment, @name, @type, @scopes, @hash, @masked, @publishable, @expires)
            RETURNING {KeyColumns}
            """);
        command.Parameters.AddWithValue("id", ResourceId.NewKeyId());
        command.Parameters.AddWithValue("project", key.ProjectId);
        command.Parameters.AddWithValue("environment", key.Environment);
        command.Parameters.AddWithValue("name", key.Name);
        command.Parameters.AddWithValue("type", key.Type.ToName());
        command.Parameters.AddWithValue("scopes", key.Scopes);
        command.Parameters.AddWithValue("hash", KeyString.Hash(value));
        command.Parameters.AddWithValue("masked", KeyString.Mask(value));
        command.Parameters.AddWithValue("publishable", NpgsqlDbType.Text, key.Type == ApiKeyType.Publishable ? value : DBNull.Value);
        command.Parameters.AddWithValue("expires", NpgsqlDbType.TimestampTz, key.ExpiresAt is { } expires ? expires : DBNull.Value);

        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return (ReadKey(reader), value);
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "api_key_live_name" })
        {
            throw new KeyNameTakenException(key.Name);
        }
    }

    /// <summary>Live keys of one environment, newest first.</summary>
    public async Task<IReadOnlyList<KeyRow>> ListKeysAsync(string projectId, string environment, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {KeyColumns} FROM api_key
            WHERE project_id = @project AND environment = @environment AND deleted_at IS NULL
            ORDER BY created_at DESC, id
            """);
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("environment", environment);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<KeyRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(ReadKey(reader));
        }

        return keys;
    }

    /// <summary>
    /// Deletes a live key whose name matches <paramref name="confirmName"/>. The row stays as a tombstone. Returns the
    /// key's hash so that caches can be told.
    /// </summary>
    public async Task<(DeleteOutcome Outcome, byte[]? KeyHash)> DeleteKeyAsync(
        string projectId, string environment, string keyId, string confirmName, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        string name;
        byte[] hash;
        await using (var command = new NpgsqlCommand(
            """
            SELECT name, key_hash FROM api_key
            WHERE id = @id AND project_id = @project AND environment = @environment AND deleted_at IS NULL
            FOR UPDATE
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("id", keyId);
            command.Parameters.AddWithValue("project", projectId);
            command.Parameters.AddWithValue("environment", environment);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return (DeleteOutcome.NotFound, null);
            }

            name = reader.GetString(0);
            hash = reader.GetFieldValue<byte[]>(1);
        }

        if (!string.Equals(name, confirmName, StringComparison.Ordinal))
        {
            return (DeleteOutcome.NameMismatch, null);
        }

        await using (var command = new NpgsqlCommand("UPDATE api_key SET deleted_at = now() WHERE id = @id", connection, transaction))
        {
            command.Parameters.AddWithValue("id", keyId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return (DeleteOutcome.Deleted, hash);
    }

    /// <summary>The key, live or deleted, with this hash.</summary>
    public async Task<KeyRow?> FindByHashAsync(byte[] keyHash, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {KeyColumns} FROM api_key WHERE key_hash = @hash");
        command.Parameters.AddWithValue("hash", keyHash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadKey(reader) : null;
    }

    private static KeyRow ReadKey(NpgsqlDataReader reader)
    {
        ApiKeyTypes.TryParseName(reader.GetString(4), out var type);
        return new KeyRow(
            Id: reader.GetString(0),
            ProjectId: reader.GetString(1),
            Environment: reader.GetString(2),
            Name: reader.GetString(3),
            Type: type,
            Scopes: reader.GetFieldValue<string[]>(5),
            MaskedKey: reader.GetString(6),
            PublishableValue: reader.IsDBNull(7) ? null : reader.GetString(7),
            CreatedAt: reader.GetDateTime(8),
            ExpiresAt: reader.IsDBNull(9) ? null : reader.GetDateTime(9),
            LastUsedAt: reader.IsDBNull(10) ? null : reader.GetDateTime(10),
            DeletedAt: reader.IsDBNull(11) ? null : reader.GetDateTime(11));
    }
}
