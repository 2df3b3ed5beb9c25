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
    DateTime? RevokesAt,
    bool Enabled = true,
    RateLimitSetting? RateLimit = null,
    string[]? AllowedCidrs = null,
    string[]? AllowedOrigins = null,
    string? Metadata = null,
    string Status = KeyStatus.Active);

public sealed record NewKey(
    string ProjectId,
    string Environment,
    string Name,
    ApiKeyType Type,
    string[] Scopes,
    DateTime? ExpiresAt,
    Caller Actor,
    RateLimitSetting? RateLimit = null,
    string[]? AllowedCidrs = null,
    string[]? AllowedOrigins = null,
    string? Metadata = null,
    bool Enabled = true);

/// <summary>Which keys of an environment a listing wants; null: any.</summary>
public sealed record KeyListFilter(ApiKeyType? Type = null, string? Status = null, string? Query = null)
{
    public bool IsEmpty => Type is null && Status is null && Query is null;
}

/// <summary>Where a page of keys or projects ends: the listing goes on after this row, in (created_at DESC, id DESC) order.</summary>
public sealed record PageCursor(DateTime CreatedAt, string Id);

/// <summary>
/// API keys and their usage. Every change to a key writes its audit event and, when caches must drop the key, its
/// outbox row in the same transaction.
/// </summary>
public sealed class KeyStore(NpgsqlDataSource dataSource, ProjectStore projects, Outbox outbox)
{
    /// <summary>
    /// A key's status by the database's clock, the one <see cref="KeyStatus"/> names: a rolled key in its grace period
    /// is rolling whatever else it is, then a switched-off key is disabled, then an expired one expired.
    /// </summary>
    public const string StatusSql =
        "CASE WHEN deleted_at IS NOT NULL OR revokes_at <= now() THEN 'deleted' WHEN revokes_at > now() THEN 'rolling' " +
        "WHEN NOT enabled THEN 'disabled' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END";

    /// <summary>How many keys a filtered listing reads in order before it turns to the search indexes (see ListKeysAsync).</summary>
    public const int ScanWindow = 2000;

    private const string KeyColumns =
        "id, project_id, environment, name, type, scopes, masked_key, publishable_value, created_at, created_by, " +
        "expires_at, last_used_at, deleted_at, rolled_from, revokes_at, enabled, rate_limit, rate_limit_window, rate_limit_mode, " +
        "allowed_cidrs::text[] AS allowed_cidrs, allowed_origins, metadata::text AS metadata, " + StatusSql + " AS status";

    private const int KeyColumnCount = 23;

    // Live keys, and rolled keys still in their grace period. Deleted keys never, by deleted_at rather than by
    // revokes_at: a concurrent delete that re-reads the row after another committed must not take it for usable
    // because its own transaction's now() is older than the revokes_at the other one wrote.
    private const string UsableKey = "(deleted_at IS NULL AND (revokes_at IS NULL OR revokes_at > now()))";

    private const string KeyOrder = "ORDER BY created_at DESC, id DESC";

    private bool _hasSearchIndexes;

    /// <summary>Creates the key and returns its row with the full value, which exists only in this call's result.</summary>
    public async Task<(KeyRow Row, string Value)> CreateKeyAsync(NewKey key, CancellationToken cancellationToken)
    {
        await projects.RequireEnvironmentAsync(key.ProjectId, key.Environment, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (maxLifetimeDays, now) = await ReadLifetimePolicyAsync(connection, transaction, key.ProjectId, cancellationToken);
        LifetimePolicy.Check(key.ProjectId, maxLifetimeDays, now, key.Type, key.ExpiresAt);
        var created = await InsertKeyAsync(connection, transaction, key, rolledFrom: null, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForKey("key.created", created.Row), key.Actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    /// <summary>
    /// A page of the usable keys of one environment (live, or rolled and still in grace), newest first, after
    /// <paramref name="after"/>, and where the next page starts (null on the last). Keyset paging: a page at any depth
    /// is one range of the api_key_list index, and keys created meanwhile never move a key to another page.
    /// </summary>
    public async Task<(IReadOnlyList<KeyRow> Keys, PageCursor? Next)> ListKeysAsync(
        string projectId, string environment, KeyListFilter filter, PageCursor? after, int pageSize, CancellationToken cancellationToken)
    {
        await projects.RequireEnvironmentAsync(projectId, environment, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var take = pageSize + 1;
        List<KeyRow> keys;
        if (filter.IsEmpty)
        {
            keys = await ReadKeysAsync(connection, null, projectId, environment, filter, after, take, cancellationToken);
        }
        else
        {
            // A filter leaves the planner to guess how many keys match, and it guesses wrong both ways: walking the
            // index in order is fastest for a common match and slowest (the whole environment) for a rare one, and
            // the trigram indexes the other way round. So: the next ScanWindow keys in order first, which fills
            // the page whenever matches are common; only if they do not, the rest, where a search of three letters
            // or more is forced onto the trigram indexes.
            var (found, windowEnd) = await ReadWindowAsync(connection, projectId, environment, filter, after, take, cancellationToken);
            keys = found;
            if (keys.Count < take && windowEnd is not null)
            {
                var rest = await ReadBeyondWindowAsync(connection, projectId, environment, filter, windowEnd, take - keys.Count, cancellationToken);
                keys.AddRange(rest);
            }
        }

        if (keys.Count <= pageSize)
        {
            return (keys, null);
        }

        keys.RemoveRange(pageSize, keys.Count - pageSize);
        return (keys, new PageCursor(keys[^1].CreatedAt, keys[^1].Id));
    }

    /// <summary>
    /// Changes the fields of <paramref name="changes"/> of a usable key, in one transaction with its audit event and,
    /// when validation sees the change, its outbox row. Concurrent updates serialize on the row, so two that change
    /// different fields both land. Returns the key as it now is, and whether caches must learn of it.
    /// </summary>
    public async Task<(KeyRow Key, bool Invalidated)> UpdateKeyAsync(
        string projectId, string environment, string keyId, KeyChanges changes, Caller actor, CancellationToken cancellationToken)
    {
        await projects.RequireEnvironmentAsync(projectId, environment, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var before = await LockUsableKeyAsync(connection, transaction, projectId, environment, keyId, cancellationToken);
        var fields = changes.Fields;
        if (fields.Contains(KeyField.AllowedCidrs) && changes.AllowedCidrs is { Length: > 0 } && before.Type != ApiKeyType.Secret)
        {
            throw KeyAdminException.AllowlistNotForKeyType(before.Type);
        }

        if (fields.Contains(KeyField.AllowedOrigins) && changes.AllowedOrigins is { Length: > 0 } && before.Type != ApiKeyType.Publishable)
        {
            throw KeyAdminException.AllowlistNotForKeyType(before.Type);
        }

        // The policy applies to the expiry an update sets, not to everything else an update of an older key does:
        // renaming or switching off a key made before the policy must stay possible.
        if (fields.Contains(KeyField.ExpiresAt))
        {
            var (maxLifetimeDays, now) = await ReadLifetimePolicyAsync(connection, transaction, projectId, cancellationToken);
            // An expired key stays expired, as it cannot be rolled: a later expiry, or none, would bring it back to
            // life everywhere. Its other fields may change (renaming, notes, switching off); none makes it work.
            if (before.ExpiresAt is { } expired && expired <= now)
            {
                throw KeyAdminException.KeyExpired(keyId, expired);
            }

            LifetimePolicy.Check(projectId, maxLifetimeDays, now, before.Type, changes.ExpiresAt);
        }

        var after = await ApplyAsync(connection, transaction, before, changes, cancellationToken);
        var changed = Enum.GetValues<KeyField>().Where(f => fields.Contains(f) && !KeyDiff.Same(f, before, after)).ToList();
        if (changed.Count == 0)
        {
            // Nothing differs: no event, no invalidation, and the row as it was.
            await transaction.RollbackAsync(cancellationToken);
            return (before, false);
        }

        var action = changed is [KeyField.Enabled] ? (after.Enabled ? "key.enabled" : "key.disabled") : "key.updated";
        await AuditLog.AppendAsync(
            connection, transaction, AuditEntry.ForKey(action, after) with { Detail = KeyDiff.Detail(changed, before, after) }, actor, cancellationToken);
        var invalidated = changed.Any(f => KeyChanges.SeenByValidation.Contains(f));
        if (invalidated)
        {
            await outbox.AppendAsync(connection, transaction, keyId, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return (after, invalidated);
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
    /// Creates a key of the same name, type, scopes, expiry (or <paramref name="expiresAt"/>) and settings, and
    /// schedules the old one's revocation at the end of the grace period (now when it is zero). Caches learn of the old
    /// key's new end through the outbox. Only a key that works now can be rolled: a roll never brings a dead key back.
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
            now = reader.GetDateTime(KeyColumnCount);
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

        // The replacement inherits the old key's end (rolling a trial key must not make it permanent) and every
        // setting: a roll must not lift a key's allowlists or limit, nor switch on a key an operator switched off.
        var replacement = new NewKey(
            projectId, environment, old.Name, old.Type, old.Scopes, expiresAt ?? old.ExpiresAt, actor,
            old.RateLimit, old.AllowedCidrs, old.AllowedOrigins, old.Metadata, old.Enabled);
        var (maxLifetimeDays, policyNow) = await ReadLifetimePolicyAsync(connection, transaction, projectId, cancellationToken);
        LifetimePolicy.Check(projectId, maxLifetimeDays, policyNow, replacement.Type, replacement.ExpiresAt);

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

        var (row, value) = await InsertKeyAsync(connection, transaction, replacement, rolledFrom: old.Id, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForKey("key.rolled", old), actor, cancellationToken);
        await AuditLog.AppendAsync(connection, transaction, AuditEntry.ForKey("key.created", row), actor, cancellationToken);
        await outbox.AppendAsync(connection, transaction, old.Id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (row, value, previous);
    }

    /// <summary>
    /// The key, usable or not, with this hash, its project's default rate limit, and the outbox sequence the answer is
    /// as of. One statement, so all come from one snapshot: an invalidation with a higher sequence is newer than this.
    /// </summary>
    public async Task<(KeyRow? Key, RateLimitSetting? ProjectDefault, long AsOfSequence)> FindByHashAsync(
        byte[] keyHash, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {Outbox.HeadSequenceSql}, p.default_rate_limit, p.default_rate_limit_window, p.default_rate_limit_mode, k.*
            FROM (SELECT 1) AS one
            LEFT JOIN (SELECT {KeyColumns} FROM api_key WHERE key_hash = @hash) AS k ON true
            LEFT JOIN project AS p ON p.id = k.project_id
            """);
        command.Parameters.AddWithValue("hash", keyHash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var asOf = reader.GetInt64(0);
        return (reader.IsDBNull(4) ? null : ReadKey(reader, offset: 4), ReadRateLimit(reader, 1), asOf);
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

    /// <summary>
    /// The SQL condition and parameters of a listing's filters, on a row source whose columns are api_key's (the
    /// table, or a subquery of <see cref="KeyColumns"/>). Null when there is none.
    /// </summary>
    private static string? FilterSql(KeyListFilter filter, NpgsqlCommand command)
    {
        var conditions = new List<string>();
        if (filter.Type is { } type)
        {
            conditions.Add("type = @type");
            command.Parameters.AddWithValue("type", type.ToName());
        }

        if (filter.Status is { } status)
        {
            conditions.Add($"({StatusSql}) = @status");
            command.Parameters.AddWithValue("status", status);
        }

        if (filter.Query is { } query)
        {
            // The name case-insensitively; the masked value as it shows (base62 is case-sensitive). The query's own
            // wildcards are escaped: it is searched for as typed.
            conditions.Add(@"(name ILIKE @pattern ESCAPE '\' OR masked_key LIKE @pattern ESCAPE '\')");
            command.Parameters.AddWithValue("pattern", "%" + EscapeLike(query) + "%");
        }

        return conditions.Count == 0 ? null : string.Join(" AND ", conditions);
    }

    private static string EscapeLike(string value) =>
        value.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);

    private static string AfterSql(PageCursor? after, NpgsqlCommand command, string name = "after")
    {
        if (after is null)
        {
            return "";
        }

        command.Parameters.AddWithValue($"{name}At", NpgsqlDbType.TimestampTz, after.CreatedAt);
        command.Parameters.AddWithValue($"{name}Id", after.Id);
        return $" AND (created_at, id) < (@{name}At, @{name}Id)";
    }

    private static async Task<List<KeyRow>> ReadKeysAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string projectId, string environment, KeyListFilter filter,
        PageCursor? after, int take, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand { Connection = connection, Transaction = transaction };
        var filters = FilterSql(filter, command);
        command.CommandText =
            $"""
            SELECT {KeyColumns} FROM api_key
            WHERE project_id = @project AND environment = @environment AND {UsableKey}{AfterSql(after, command)}{(filters is null ? "" : " AND " + filters)}
            {KeyOrder} LIMIT @take
            """;
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("environment", environment);
        command.Parameters.AddWithValue("take", take);
        return await ReadAllAsync(command, cancellationToken);
    }

    /// <summary>
    /// The matches among the next <see cref="ScanWindow"/> usable keys, and the last of those keys when there were that
    /// many (more may follow it), from one read of an index range in order. The window holds only what the filters
    /// read; whole rows are read for the matches alone.
    /// </summary>
    private static async Task<(List<KeyRow> Found, PageCursor? WindowEnd)> ReadWindowAsync(
        NpgsqlConnection connection, string projectId, string environment, KeyListFilter filter, PageCursor? after, int take,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand { Connection = connection };
        var filters = FilterSql(filter, command);
        command.CommandText =
            $"""
            WITH w AS MATERIALIZED (
                SELECT id, created_at, type, name, masked_key, enabled, expires_at, revokes_at, deleted_at FROM api_key
                WHERE project_id = @project AND environment = @environment AND {UsableKey}{AfterSql(after, command)}
                {KeyOrder} LIMIT @window)
            SELECT {KeyColumns}, false AS window_end FROM api_key
            WHERE id IN (SELECT id FROM w WHERE {filters} {KeyOrder} LIMIT @take)
            UNION ALL
            SELECT {KeyColumns}, true FROM api_key
            WHERE id = (SELECT id FROM w ORDER BY created_at, id LIMIT 1) AND (SELECT count(*) FROM w) = @window
            ORDER BY window_end, created_at DESC, id DESC
            """;
        command.Parameters.AddWithValue("project", projectId);
        command.Parameters.AddWithValue("environment", environment);
        command.Parameters.AddWithValue("window", ScanWindow);
        command.Parameters.AddWithValue("take", take);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new List<KeyRow>();
        PageCursor? end = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var key = ReadKey(reader);
            if (reader.GetBoolean(KeyColumnCount))
            {
                end = new PageCursor(key.CreatedAt, key.Id);
            }
            else
            {
                found.Add(key);
            }
        }

        return (found, end);
    }

    private async Task<List<KeyRow>> ReadBeyondWindowAsync(
        NpgsqlConnection connection, string projectId, string environment, KeyListFilter filter, PageCursor windowEnd, int take,
        CancellationToken cancellationToken)
    {
        if (filter.Query is not { } query || !HasTrigram(query) || !await HasSearchIndexesAsync(connection, cancellationToken))
        {
            return await ReadKeysAsync(connection, null, projectId, environment, filter, windowEnd, take, cancellationToken);
        }

        // Few matches, then (the window found fewer than a page): the trigram indexes find them wherever they are.
        // Left to itself the planner often walks the list index instead, reading the whole environment.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var settings = new NpgsqlCommand("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off", connection, transaction))
        {
            await settings.ExecuteNonQueryAsync(cancellationToken);
        }

        var keys = await ReadKeysAsync(connection, transaction, projectId, environment, filter, windowEnd, take, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return keys;
    }

    /// <summary>
    /// Whether the trigram indexes can find <paramref name="query"/>: pg_trgm finds a pattern by its runs of three
    /// letters or digits, and a query without one would read the whole index. ASCII ones only: which other characters
    /// count as letters is the database locale's call (none, under C), so a query of other letters reads in order.
    /// </summary>
    public static bool HasTrigram(string query)
    {
        var run = 0;
        foreach (var c in query)
        {
            run = char.IsAsciiLetterOrDigit(c) ? run + 1 : 0;
            if (run >= 3)
            {
                return true;
            }
        }

        return false;
    }

    // Migration 0007 makes them only where pg_trgm is available; without them the search reads in order. Only their
    // presence is remembered: a search that came before the migration asks again next time.
    private async Task<bool> HasSearchIndexesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (_hasSearchIndexes)
        {
            return true;
        }

        await using var command = new NpgsqlCommand(
            "SELECT count(*) = 2 FROM pg_class WHERE relname IN ('api_key_name_trgm', 'api_key_masked_trgm') AND relkind = 'i'", connection);
        return _hasSearchIndexes = await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>The project's lifetime policy for secret keys, held (FOR SHARE) until commit, and the transaction's now().</summary>
    private static async Task<(int? MaxLifetimeDays, DateTime Now)> ReadLifetimePolicyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string projectId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT max_secret_key_lifetime_days, now() FROM project WHERE id = @project FOR SHARE", connection, transaction);
        command.Parameters.AddWithValue("project", projectId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.IsDBNull(0) ? null : reader.GetInt32(0), reader.GetDateTime(1))
            : throw KeyAdminException.ProjectNotFound(projectId);
    }

    private static async Task<KeyRow> ApplyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, KeyRow key, KeyChanges changes, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand { Connection = connection, Transaction = transaction };
        var assignments = new List<string>();
        foreach (var field in changes.Fields)
        {
            switch (field)
            {
                case KeyField.Name:
                    assignments.Add("name = @name");
                    command.Parameters.AddWithValue("name", changes.Name);
                    break;
                case KeyField.Scopes:
                    assignments.Add("scopes = @scopes");
                    command.Parameters.AddWithValue("scopes", changes.Scopes ?? []);
                    break;
                case KeyField.ExpiresAt:
                    assignments.Add("expires_at = @expires");
                    command.Parameters.AddWithValue("expires", NpgsqlDbType.TimestampTz, changes.ExpiresAt is { } expires ? expires : DBNull.Value);
                    break;
                case KeyField.Enabled:
                    assignments.Add("enabled = @enabled");
                    command.Parameters.AddWithValue("enabled", changes.Enabled);
                    break;
                case KeyField.RateLimit:
                    assignments.Add("rate_limit = @limit, rate_limit_window = @window, rate_limit_mode = @mode");
                    AddRateLimit(command, changes.RateLimit);
                    break;
                case KeyField.AllowedCidrs:
                    assignments.Add("allowed_cidrs = @cidrs::cidr[]");
                    command.Parameters.AddWithValue("cidrs", changes.AllowedCidrs ?? []);
                    break;
                case KeyField.AllowedOrigins:
                    assignments.Add("allowed_origins = @origins");
                    command.Parameters.AddWithValue("origins", changes.AllowedOrigins ?? []);
                    break;
                case KeyField.Metadata:
                    assignments.Add("metadata = @metadata::jsonb");
                    command.Parameters.AddWithValue("metadata", NpgsqlDbType.Text, (object?)changes.Metadata ?? DBNull.Value);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(changes), field, "A key field with no column.");
            }
        }

        command.CommandText = $"UPDATE api_key SET {string.Join(", ", assignments)} WHERE id = @id RETURNING {KeyColumns}";
        command.Parameters.AddWithValue("id", key.Id);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return ReadKey(reader);
        }
        catch (PostgresException ex) when (ex is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "api_key_live_name" })
        {
            throw KeyAdminException.KeyNameTaken(changes.Name, key.Environment);
        }
    }

    private static void AddRateLimit(NpgsqlCommand command, RateLimitSetting? rateLimit)
    {
        command.Parameters.AddWithValue("limit", NpgsqlDbType.Bigint, rateLimit is null ? DBNull.Value : rateLimit.Limit);
        command.Parameters.AddWithValue("window", NpgsqlDbType.Integer, rateLimit is null ? DBNull.Value : rateLimit.WindowSeconds);
        command.Parameters.AddWithValue("mode", NpgsqlDbType.Text, rateLimit is null ? DBNull.Value : rateLimit.Mode);
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
                                 expires_at, created_by, rolled_from, enabled, rate_limit, rate_limit_window, rate_limit_mode,
                                 allowed_cidrs, allowed_origins, metadata)
            VALUES (@id, @project, @environment, @name, @type, @scopes, @hash, @masked, @publishable, @expires, @actor, @rolledFrom,
                    @enabled, @limit, @window, @mode, @cidrs::cidr[], @origins, @metadata::jsonb)
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
        command.Parameters.AddWithValue("enabled", key.Enabled);
        AddRateLimit(command, key.RateLimit);
        command.Parameters.AddWithValue("cidrs", key.AllowedCidrs ?? []);
        command.Parameters.AddWithValue("origins", key.AllowedOrigins ?? []);
        command.Parameters.AddWithValue("metadata", NpgsqlDbType.Text, (object?)key.Metadata ?? DBNull.Value);

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

    private static async Task<List<KeyRow>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<KeyRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(ReadKey(reader));
        }

        return keys;
    }

    /// <summary>A rate limit from three columns (limit, window, mode) at <paramref name="offset"/>; null when unset.</summary>
    internal static RateLimitSetting? ReadRateLimit(NpgsqlDataReader reader, int offset) => reader.IsDBNull(offset)
        ? null
        : new RateLimitSetting(reader.GetInt64(offset), reader.GetInt32(offset + 1), reader.GetString(offset + 2));

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
            RevokesAt: reader.IsDBNull(offset + 14) ? null : reader.GetDateTime(offset + 14),
            Enabled: reader.GetBoolean(offset + 15),
            RateLimit: ReadRateLimit(reader, offset + 16),
            AllowedCidrs: reader.GetFieldValue<string[]>(offset + 19),
            AllowedOrigins: reader.GetFieldValue<string[]>(offset + 20),
            Metadata: reader.IsDBNull(offset + 21) ? null : reader.GetString(offset + 21),
            Status: reader.GetString(offset + 22));
    }
}
