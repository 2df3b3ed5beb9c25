using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Npgsql;
using NpgsqlTypes;

namespace Keys.KeyAdmin.Data;

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
    string? CreatedBy,
    DateTime? ExpiresAt,
    DateTime? LastUsedAt,
    DateTime? DeletedAt,
    string? RolledFrom,
    DateTime? RevokesAt);

public sealed record NewKey(string ProjectId, string Environment, string Name, ApiKeyType Type, string[] Scopes, DateTime? ExpiresAt, Caller Actor);

/// <summary>
/// API keys and their usage. Every change to a key writes its audit event and, when caches must drop the key, its
/// outbox row in the same transaction.
/// </summary>
public sealed class KeyStore(NpgsqlDataSource dataSource, ProjectStore projects, Outbox outbox)
{
    private const string KeyColumns =
        "id, project_id, environment, name, type, scopes, masked_key, publishable_value, created_at, created_by, " +
        "expires_at, last_used_at, deleted_at, rolled_from, revokes_at";

    // Live keys, and rolled keys still in their grace period. Deleted keys never, by deleted_at rather than by
    // revokes_at: a concurrent delete that re-reads the row after another committed must not take it for usable
    // because its own transaction's now() is older than the revokes_at the other one wrote.
    private const string UsableKey = "(deleted_at IS NULL AND (revokes_at IS NULL OR revokes_at > now()))";

    /// <summary>Creates the key and returns its row with the full value, which exists only in this call's result.</summary>
    public async Task<(KeyRow Row, string Value)> CreateKeyAsync(NewKey key, CancellationToken cancellationToken)
    {
        await projects.RequireEnvironmentAsync(key.ProjectId, key.Environment, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var created = await InsertKeyAsync(connection, transaction, key, rolledFrom: null, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForKey("key.created", created.Row), key.Actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    /// <summary>Usable keys of one environment (live, or rolled and still in grace), newest first.</summary>
    public async Task<IReadOnlyList<KeyRow>> ListKeysAsync(string projectId, string environment, CancellationToken cancellationToken)
    {
        await projects.RequireEnvironmentAsync(projectId, environment, cancellationToken);
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {KeyColumns} FROM api_key
            WHERE project_id = @project AND environment = @environment AND {UsableKey}
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
    /// Deletes a usable key whose name is <paramref name="confirmName"/>; the row stays as a tombstone so validation
    /// can answer "revoked". Concurrent deletes of one key serialize on the row: the second finds nothing to delete.
    /// </summary>
    public async Task DeleteKeyAsync(
        string projectId, string environment, string keyId, string confirmName, Caller actor, CancellationToken cancellationToken)
    {
        await projects.RequireEnvironmentAsync(projectId, environment, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var key = await LockUsableKeyAsync(connection, transaction, projectId, environment, keyId, cancellationToken);
        if (!string.Equals(key.Name, confirmName, StringComparison.Ordinal))
        {
            throw KeyAdminException.ConfirmNameMismatch();
        }

        await using (var command = new NpgsqlCommand("UPDATE api_key SET deleted_at = now(), revokes_at = now() WHERE id = @id", connection, transaction))
        {
            command.Parameters.AddWithValue("id", keyId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForKey("key.deleted", key), actor, cancellationToken);
        await outbox.AppendAsync(connection, transaction, key.Id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Creates a key of the same name, type, scopes and expiry (or <paramref name="expiresAt"/>), and schedules the old
    /// one's revocation at the end of the grace period (now when it is zero). Caches learn of the old key's new end
    /// through the outbox. Only a key that works now can be rolled: a roll never brings a dead key back.
    /// </summary>
    public async Task<(KeyRow NewKey, string Value, KeyRow PreviousKey)> RollKeyAsync(
        string projectId, string environment, string keyId, TimeSpan gracePeriod, DateTime? expiresAt, Caller actor,
        CancellationToken cancellationToken)
    {
        await projects.RequireEnvironmentAsync(projectId, environment, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        KeyRow old;
        DateTime now;
        await using (var command = new NpgsqlCommand(
            $"""
            SELECT {KeyColumns}, now() FROM api_key
            WHERE id = @id AND project_id = @project AND environment = @environment
            FOR UPDATE
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("id", keyId);
            command.Parameters.AddWithValue("project", projectId);
            command.Parameters.AddWithValue("environment", environment);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw KeyAdminException.KeyNotFound(keyId, environment);
            }

            old = ReadKey(reader);
            now = reader.GetDateTime(15);
        }

        if (old.RevokesAt is { } revokesAt)
        {
            throw old.DeletedAt is null && revokesAt > now
                ? KeyAdminException.KeyAlreadyRolled(keyId, revokesAt)
                : KeyAdminException.KeyRevoked(keyId);
        }

        if (old.ExpiresAt is { } expired && expired <= now)
        {
            throw KeyAdminException.KeyExpired(keyId, expired);
        }

        KeyRow previous;
        await using (var command = new NpgsqlCommand(
            $"""
            UPDATE api_key SET revokes_at = now() + @grace
            WHERE id = @id
            RETURNING {KeyColumns}
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("id", keyId);
            command.Parameters.AddWithValue("grace", gracePeriod);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            previous = ReadKey(reader);
        }

        // The replacement inherits the old key's end: rolling a trial key must not make it permanent.
        var replacement = new NewKey(projectId, environment, old.Name, old.Type, old.Scopes, expiresAt ?? old.ExpiresAt, actor);
        var (row, value) = await InsertKeyAsync(connection, transaction, replacement, rolledFrom: old.Id, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForKey("key.rolled", old), actor, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForKey("key.created", row), actor, cancellationToken);
        await outbox.AppendAsync(connection, transaction, old.Id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (row, value, previous);
    }

    /// <summary>
    /// The key, usable or not, with this hash, and the outbox sequence the answer is as of. One statement, so both
    /// come from one snapshot: an invalidation with a higher sequence is newer than this answer.
    /// </summary>
    public async Task<(KeyRow? Key, long AsOfSequence)> FindByHashAsync(byte[] keyHash, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {Outbox.HeadSequenceSql}, k.*
            FROM (SELECT 1) AS one LEFT JOIN (SELECT {KeyColumns} FROM api_key WHERE key_hash = @hash) AS k ON true
            """);
        command.Parameters.AddWithValue("hash", keyHash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var asOf = reader.GetInt64(0);
        return (reader.IsDBNull(1) ? null : ReadKey(reader, offset: 1), asOf);
    }

    /// <summary>Moves last_used_at forward only: usage reports can arrive late and out of order.</summary>
    public async Task RecordUsageAsync(IReadOnlyList<(string KeyId, DateTime LastUsedAt)> usages, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            UPDATE api_key AS k SET last_used_at = u.used_at
            FROM unnest(@ids, @times) AS u(id, used_at)
            WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.used_at)
            """);
        command.Parameters.AddWithValue("ids", usages.Select(u => u.KeyId).ToArray());
        command.Parameters.AddWithValue("times", usages.Select(u => u.LastUsedAt).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<KeyRow> LockUsableKeyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string projectId, string environment, string keyId,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            SELECT {KeyColumns} FROM api_key
            WHERE id = @id AND project_id = @project AND environment = @environment AND {UsableKey}
            FOR UPDATE
            """, connection, transaction);
        command.Parameters.AddWithValue("id", keyId);
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("environment", environment);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? ReadKey(reader)
            : throw KeyAdminException.KeyNotFound(keyId, environment);
    }

    private static async Task<(KeyRow Row, string Value)> InsertKeyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, NewKey key, string? rolledFrom, CancellationToken cancellationToken)
    {
        var value = KeyString.Generate(key.Type);
        await using var command = new NpgsqlCommand(
            $"""
            INSERT INTO api_key (id, project_id, environment, name, type, scopes, key_hash, masked_key, publishable_value,
                                 expires_at, created_by, rolled_from)
            VALUES (@id, @project, @environment, @name, @type, @scopes, @hash, @masked, @publishable, @expires, @actor, @rolledFrom)
            RETURNING {KeyColumns}
            """, connection, transaction);
        command.Parameters.AddWithValue("id", ResourceId.NewKeyId());
        command.Parameters.AddWithValue("project", key.ProjectId);
        command.Parameters.AddWithValue("environment", key.Environment);
        command.Parameters.AddWithValue("name", key.Name);
        command.Parameters.AddWithValue("type", key.Type.ToName());
        command.Parameters.AddWithValue("scopes", key.Scopes);
        command.Parameters.AddWithValue("hash", KeyHash.Of(value).ToArray());
        command.Parameters.AddWithValue("masked", KeyString.Mask(value));
        command.Parameters.AddWithValue("publishable", NpgsqlDbType.Text, key.Type == ApiKeyType.Publishable ? value : DBNull.Value);
        command.Parameters.AddWithValue("expires", NpgsqlDbType.TimestampTz, key.ExpiresAt is { } expires ? expires : DBNull.Value);
        command.Parameters.AddWithValue("actor", key.Actor.Name);
        command.Parameters.AddWithValue("rolledFrom", NpgsqlDbType.Text, rolledFrom is null ? DBNull.Value : rolledFrom);

        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return (ReadKey(reader), value);
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "api_key_live_name" })
        {
            throw KeyAdminException.KeyNameTaken(key.Name, key.Environment);
        }
    }

    private static KeyRow ReadKey(NpgsqlDataReader reader, int offset = 0)
    {
        ApiKeyTypes.TryParseName(reader.GetString(offset + 4), out var type);
        return new KeyRow(
            Id: reader.GetString(offset),
            ProjectId: reader.GetString(offset + 1),
            Environment: reader.GetString(offset + 2),
            Name: reader.GetString(offset + 3),
            Type: type,
            Scopes: reader.GetFieldValue<string[]>(offset + 5),
            MaskedKey: reader.GetString(offset + 6),
            PublishableValue: reader.IsDBNull(offset + 7) ? null : reader.GetString(offset + 7),
            CreatedAt: reader.GetDateTime(offset + 8),
            CreatedBy: reader.IsDBNull(offset + 9) ? null : reader.GetString(offset + 9),
            ExpiresAt: reader.IsDBNull(offset + 10) ? null : reader.GetDateTime(offset + 10),
            LastUsedAt: reader.IsDBNull(offset + 11) ? null : reader.GetDateTime(offset + 11),
            DeletedAt: reader.IsDBNull(offset + 12) ? null : reader.GetDateTime(offset + 12),
            RolledFrom: reader.IsDBNull(offset + 13) ? null : reader.GetString(offset + 13),
            RevokesAt: reader.IsDBNull(offset + 14) ? null : reader.GetDateTime(offset + 14));
    }
}
