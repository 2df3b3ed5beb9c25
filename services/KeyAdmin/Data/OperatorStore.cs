using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Npgsql;
using NpgsqlTypes;

namespace Keys.KeyAdmin.Data;

public sealed record OperatorRow(
    string Id,
    string Name,
    OperatorRole Role,
    string[] ProjectIds,
    string MaskedToken,
    DateTime CreatedAt,
    string CreatedBy,
    DateTime? ExpiresAt,
    DateTime? RevokedAt,
    string? RevokedBy);

public sealed record NewOperator(string Name, OperatorRole Role, string[] ProjectIds, DateTime? ExpiresAt);

/// <summary>What a presented operator token turned out to be.</summary>
public enum OperatorTokenState
{
    Unknown,
    Active,
    Expired,
    Revoked,
}

/// <summary>
/// Operators and their tokens. A token is kept only as its SHA-256 and looked up on every call, so a revoked or expired
/// token stops working at once on every KeyAdmin replica.
/// </summary>
public sealed class OperatorStore(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "id, name, role, project_ids, masked_token, created_at, created_by, expires_at, revoked_at, revoked_by";

    /// <summary>Creates the operator and returns its row with the token, which exists only in this call's result.</summary>
    public async Task<(OperatorRow Row, string Token)> CreateAsync(NewOperator newOperator, Caller actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        if (newOperator.ProjectIds.Length > 0)
        {
            await using var command = new NpgsqlCommand("SELECT array_agg(id) FROM project WHERE id = ANY(@ids)", connection, transaction);
            command.Parameters.AddWithValue("ids", newOperator.ProjectIds);
            var found = await command.ExecuteScalarAsync(cancellationToken) as string[] ?? [];
            if (newOperator.ProjectIds.FirstOrDefault(id => !found.Contains(id, StringComparer.Ordinal)) is { } missing)
            {
                throw KeyAdminException.ProjectNotFound(missing);
            }
        }

        var token = OperatorToken.Generate();
        OperatorRow row;
        await using (var command = new NpgsqlCommand(
            $"""
            INSERT INTO operator (id, name, role, project_ids, token_hash, masked_token, created_by, expires_at)
            VALUES (@id, @name, @role, @projects, @hash, @masked, @createdBy, @expires)
            RETURNING {Columns}
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("id", ResourceId.NewOperatorId());
            command.Parameters.AddWithValue("name", newOperator.Name);
            command.Parameters.AddWithValue("role", newOperator.Role.ToName());
            command.Parameters.AddWithValue("projects", newOperator.ProjectIds);
            command.Parameters.AddWithValue("hash", KeyHash.Of(token).ToArray());
            command.Parameters.AddWithValue("masked", OperatorToken.Mask(token));
            command.Parameters.AddWithValue("createdBy", actor.Name);
            command.Parameters.AddWithValue("expires", NpgsqlDbType.TimestampTz, newOperator.ExpiresAt is { } expires ? expires : DBNull.Value);
            try
            {
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                row = Read(reader);
            }
            catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "operator_live_name" })
            {
                throw KeyAdminException.OperatorNameTaken(newOperator.Name);
            }
        }

        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForOperator("operator.created", row), actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (row, token);
    }

    /// <summary>Every operator, revoked and expired ones too, newest first.</summary>
    public async Task<IReadOnlyList<OperatorRow>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM operator ORDER BY created_at DESC, id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<OperatorRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(Read(reader));
        }

        return rows;
    }

    /// <summary>Revokes the operator's token. Concurrent revocations serialize on the row: the second finds it revoked.</summary>
    public async Task<OperatorRow> RevokeAsync(string operatorId, Caller actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        OperatorRow current;
        await using (var command = new NpgsqlCommand($"SELECT {Columns} FROM operator WHERE id = @id FOR UPDATE", connection, transaction))
        {
            command.Parameters.AddWithValue("id", operatorId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            current = await reader.ReadAsync(cancellationToken) ? Read(reader) : throw KeyAdminException.OperatorNotFound(operatorId);
        }

        if (current.RevokedAt is { } revokedAt)
        {
            throw KeyAdminException.OperatorRevoked(operatorId, revokedAt);
        }

        OperatorRow revoked;
        await using (var command = new NpgsqlCommand(
            $"UPDATE operator SET revoked_at = now(), revoked_by = @actor WHERE id = @id RETURNING {Columns}", connection, transaction))
        {
            command.Parameters.AddWithValue("id", operatorId);
            command.Parameters.AddWithValue("actor", actor.Name);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            revoked = Read(reader);
        }

        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForOperator("operator.revoked", revoked), actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return revoked;
    }

    /// <summary>The operator whose token has this SHA-256, and whether the token works now (by the database's clock).</summary>
    public async Task<(OperatorRow? Row, OperatorTokenState State)> FindByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {Columns}, CASE WHEN revoked_at IS NOT NULL THEN 3 WHEN expires_at <= now() THEN 2 ELSE 1 END
            FROM operator WHERE token_hash = @hash
            """);
        command.Parameters.AddWithValue("hash", tokenHash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (Read(reader), (OperatorTokenState)reader.GetInt32(10))
            : (null, OperatorTokenState.Unknown);
    }

    private static OperatorRow Read(NpgsqlDataReader reader)
    {
        OperatorRoles.TryParseName(reader.GetString(2), out var role);
        return new OperatorRow(
            Id: reader.GetString(0),
            Name: reader.GetString(1),
            Role: role,
            ProjectIds: reader.GetFieldValue<string[]>(3),
            MaskedToken: reader.GetString(4),
            CreatedAt: reader.GetDateTime(5),
            CreatedBy: reader.GetString(6),
            ExpiresAt: reader.IsDBNull(7) ? null : reader.GetDateTime(7),
            RevokedAt: reader.IsDBNull(8) ? null : reader.GetDateTime(8),
            RevokedBy: reader.IsDBNull(9) ? null : reader.GetString(9));
    }
}
